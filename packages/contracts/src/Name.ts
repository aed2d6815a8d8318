import { Schema } from "effect"

/** The longest name the `varchar(255)` columns (greetings, invocations, executions) hold, in characters. */
export const MAX_NAME_LENGTH = 255

/** Every service greets `World` when no name is given. */
export const DEFAULT_NAME = "World"

/**
 * What a name must be for greeter, gateway and lang to answer with it and record it: PostgreSQL
 * text cannot hold NUL, a lone UTF-16 surrogate would be stored as U+FFFD (a different name),
 * and varchar(255) counts code points. One rule, one wording, wherever a name is checked.
 */
type Rule = readonly [(name: string) => boolean, string]

const noNul: Rule = [(name) => !name.includes("\u0000"), "must not contain NUL characters"]
const wellFormed: Rule = [(name) => name.isWellFormed(), "must be valid Unicode text"]
const short: Rule = [
  (name) => [...name].length <= MAX_NAME_LENGTH,
  `must be at most ${MAX_NAME_LENGTH} characters long`,
]
const rules = [noNul, wellFormed, short]

const filter = ([ok, message]: Rule) => Schema.makeFilter((name: string) => ok(name) || message)

export const Name = Schema.String.check(filter(noNul), filter(wellFormed), filter(short))

/** Why `name` cannot be recorded, or `undefined` when it can. */
export const problem = (name: string): string | undefined => rules.find(([ok]) => !ok(name))?.[1]
