/** A failure, as the sentence `ErrorMessage.describe` makes of it: announced, never a blank space. */
export function Alert({ children }: { readonly children: string }) {
  return (
    <p role="alert" className="error">
      {children}
    </p>
  )
}
