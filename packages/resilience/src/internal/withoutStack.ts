/**
 * An expected failure needs no stack trace (it is an answer, not a bug), and capturing one is
 * the largest cost of a fast failure (an open breaker's, an empty budget's).
 */
export const withoutStack = <A>(make: () => A): A => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return make()
  } finally {
    Error.stackTraceLimit = limit
  }
}
