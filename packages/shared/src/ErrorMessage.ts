/**
 * The message a person needs from an error chain: its innermost message ("database "x" does
 * not exist", "connect ECONNREFUSED 127.0.0.1:5432"), not the wrapper's ("Failed to connect").
 * For operational failures that are logged on every request, where a stack would drown them.
 */
export const describe = (error: unknown): string => {
  let message = error instanceof Error ? error.message : String(error)
  let current: unknown = error
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    if (current instanceof Error && current.message !== "") message = current.message
    current = (current as { readonly cause?: unknown }).cause
  }
  return message
}
