/**
 * A problem with what the batch scorer was given (arguments, the model, an input file): printed as one line
 * naming the file and column, exit code 2, no stack trace, nothing written to the output.
 */
export class ScoringInputError extends Error {
  override readonly name = "ScoringInputError";
}
