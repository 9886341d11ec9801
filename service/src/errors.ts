/**
 * One error shape for the service's JSON routes: {statusCode, error, message, fields?}. Client mistakes keep
 * their 4xx status and say what to change; anything else is a 500 whose details go to the log, not the client.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { toFieldProblems, type FieldProblem } from "./model/request-schema";

export interface ErrorBody {
  readonly statusCode: number;
  readonly error: string;
  readonly message: string;
  readonly fields?: readonly FieldProblem[];
}

/** A 4xx with the offending fields. */
export class RequestProblem extends Error {
  override readonly name = "RequestProblem";
  constructor(
    readonly statusCode: number,
    message: string,
    readonly fields?: readonly FieldProblem[],
  ) {
    super(message);
  }
}

export function invalidFields(fields: readonly FieldProblem[]): RequestProblem {
  const summary = fields
    .slice(0, 10)
    .map((f) => `${f.field} ${f.problem}`)
    .join("; ");
  return new RequestProblem(400, `invalid request: ${summary}${fields.length > 10 ? ` (+${fields.length - 10} more)` : ""}`, fields);
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Entity",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

export function errorBody(statusCode: number, message: string, fields?: readonly FieldProblem[]): ErrorBody {
  return { statusCode, error: REASONS[statusCode] ?? "Error", message, ...(fields ? { fields } : {}) };
}

export function errorHandler(error: FastifyError | RequestProblem, request: FastifyRequest, reply: FastifyReply): void {
  if (error instanceof RequestProblem) {
    void reply.status(error.statusCode).send(errorBody(error.statusCode, error.message, error.fields));
    return;
  }
  if (error.validation) {
    // Route schemas (querystring, params, static bodies) validated by Fastify itself.
    const fields = toFieldProblems(error.validation as never, error.validationContext === "body" ? "" : `${error.validationContext}.`);
    void reply.status(400).send(errorBody(400, `invalid request: ${error.message}`, fields));
    return;
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // Fastify's own client errors: malformed JSON, wrong content type, body too large, ...
    void reply.status(status).send(errorBody(status, clientMessage(error)));
    return;
  }
  request.log.error({ err: error }, "request failed");
  void reply.status(500).send(errorBody(500, "internal error; see the service log for this request id"));
}

function clientMessage(error: FastifyError): string {
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return "request body is larger than the limit (BODY_LIMIT_BYTES)";
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return "unsupported content type: send application/json";
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return "the body is empty: send a JSON object";
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return error.message;
    default:
      return error.message;
  }
}
