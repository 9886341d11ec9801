/** A problem with the drift job's input or configuration: printed as one line, exit code 2, no stack trace. */
export class DriftInputError extends Error {
  override readonly name = "DriftInputError";
}
