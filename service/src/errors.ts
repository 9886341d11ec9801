/**
 * One error shape for the service's JSON routes: {statusCode, error, message, fields?}. Client mistakes keep
 * their 4xx status and say what to change; anything else is a 500 whose details go to the log, not the client.
 *
 * Every answer built here is bounded whatever the request held: at most MAX_REPORTED_FIELDS fields (the rest
 * counted in `fieldsOmitted`), and field names, problems and the message cut to a fixed length. A 1 MB body of
 * 120k unknown keys was answered with an 8 MB 400 listing every one; a client sending such bodies made the
 * service serialize and send eight times what it received.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { toFieldProblems, type FieldProblem } from "./model/request-schema";

export interface ErrorBody {
  readonly statusCode: number;
  readonly error: string;
  readonly message: string;
  readonly fields?: readonly FieldProblem[];
  /** Problems found beyond the MAX_REPORTED_FIELDS listed in `fields`. */
  readonly fieldsOmitted?: number;
}

/** Fields listed in one error answer. */
export const MAX_REPORTED_FIELDS = 100;
/** Longest field name, problem and message in an error answer (a key in the body can be a megabyte long). */
const MAX_FIELD_CHARS = 200;
const MAX_PROBLEM_CHARS = 300;
const MAX_MESSAGE_CHARS = 2000;

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
    .map((f) => `${clip(f.field, MAX_FIELD_CHARS)} ${clip(f.problem, MAX_PROBLEM_CHARS)}`)
    .join("; ");
  return new RequestProblem(400, `invalid request: ${summary}${fields.length > 10 ? ` (+${fields.length - 10} more)` : ""}`, fields);
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Entity",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

export function errorBody(statusCode: number, message: string, fields?: readonly FieldProblem[]): ErrorBody {
  const body: ErrorBody = { statusCode, error: REASONS[statusCode] ?? "Error", message: clip(message, MAX_MESSAGE_CHARS) };
  if (!fields) return body;
  const listed = fields.slice(0, MAX_REPORTED_FIELDS).map((f) => ({ field: clip(f.field, MAX_FIELD_CHARS), problem: clip(f.problem, MAX_PROBLEM_CHARS) }));
  return fields.length > listed.length ? { ...body, fields: listed, fieldsOmitted: fields.length - listed.length } : { ...body, fields: listed };
}

/** A message cut to the length every error answer keeps (it may quote what the client sent). */
export function boundedMessage(text: string): string {
  return clip(text, MAX_MESSAGE_CHARS);
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
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
