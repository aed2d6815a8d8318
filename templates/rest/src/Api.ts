import { InvalidRequest, RequestValidation } from "@platform/contracts/ErrorBody"
import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"

/**
 * specimen's REST contract, declared once: the server implements it, its tests and any other
 * service derive their typed clients from it (`HttpApiClient.make(SpecimenApi)`).
 */

export const MAX_TEXT_LENGTH = 1000

/** What PostgreSQL's `text` holds: no NUL, valid Unicode; and not empty, not too long. */
const storable = Schema.makeFilter(
  (text: string) =>
    (text.length > 0 && text.length <= MAX_TEXT_LENGTH && !text.includes("\u0000") && text.isWellFormed()) ||
    `must be 1 to ${MAX_TEXT_LENGTH} characters of valid Unicode, without NUL`,
)

export const CreateEntry = Schema.Struct({
  text: Schema.String.annotate({ message: "must be a string" }).check(storable),
})
export type CreateEntry = typeof CreateEntry.Type

export const Entry = Schema.Struct({ text: Schema.String, length: Schema.Int })
export type Entry = typeof Entry.Type

export const create = HttpApiEndpoint.post("create", "/specimen/entries", {
  payload: CreateEntry,
  success: Entry.pipe(HttpApiSchema.status(201)),
  error: InvalidRequest,
})

export class EntriesGroup extends HttpApiGroup.make("entries").add(create) {}

/** Every endpoint answers a malformed request `400 {"error": "<what is wrong>"}`. */
export class SpecimenApi extends HttpApi.make("specimen").add(EntriesGroup).middleware(RequestValidation) {}
