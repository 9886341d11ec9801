/**
 * Request bodies with `Content-Encoding: gzip | deflate | br` are decoded before parsing, with BODY_LIMIT_BYTES
 * applying to the DECODED size (a 1 MB gzip of zeros is a gigabyte: decoding stops, and the client gets 413, as
 * soon as the limit is passed). Any other coding is 415 naming the ones accepted: a body we cannot read must
 * not be parsed as if it were plain JSON. `identity` (or no header) passes the body through untouched.
 */
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import type { preParsingHookHandler } from "fastify";
import { RequestProblem } from "../errors";

const DECODERS = {
  gzip: createGunzip,
  "x-gzip": createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
} as const;
type Coding = keyof typeof DECODERS;
const ACCEPTED = "gzip, deflate, br or identity";

/** preParsing hook decoding the body; `limit` bounds the decoded bytes. */
export function contentEncodingHook(limit: number): preParsingHookHandler {
  return (request, reply, payload, done) => {
    const header = request.headers["content-encoding"];
    if (header === undefined) return done(null, payload);
    const codings = String(header)
      .split(",")
      .map((c) => c.trim().toLowerCase())
      .filter((c) => c !== "" && c !== "identity");
    if (codings.length === 0) return done(null, payload);
    const coding = codings[0] as Coding;
    if (codings.length > 1 || !Object.hasOwn(DECODERS, coding)) {
      // The unread body stays on the connection: close it after this answer.
      void reply.header("connection", "close");
      const named = JSON.stringify(String(header).slice(0, 64));
      return done(new RequestProblem(415, `unsupported Content-Encoding ${named}: send one of ${ACCEPTED}`), undefined);
    }
    done(null, decoded(payload, coding, limit));
  };
}

/** The decoded body, failing with 413 past `limit` decoded bytes and 400 on a corrupt encoding. */
function decoded(payload: Readable, coding: Coding, limit: number): Readable {
  const decoder = DECODERS[coding]();
  const counter = new LimitedBody(limit, () => {
    payload.unpipe(decoder);
    decoder.destroy();
  });
  // Fastify compares Content-Length with the bytes received on the wire, not the decoded ones.
  payload.on("data", (chunk: Buffer) => (counter.receivedEncodedLength += chunk.length));
  payload.on("error", (error) => counter.destroy(error));
  decoder.on("error", (error) =>
    counter.destroy(new RequestProblem(400, `the body is not valid ${coding} (Content-Encoding): ${error.message}`)),
  );
  // Fastify listens for errors while it reads; one after it stopped (its own limit on encoded bytes) is moot.
  counter.on("error", () => undefined);
  payload.pipe(decoder).pipe(counter);
  return counter;
}

class LimitedBody extends Transform {
  receivedEncodedLength = 0;
  private bytes = 0;

  constructor(
    private readonly limit: number,
    private readonly stopDecoding: () => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      callback(new RequestProblem(413, `the decoded request body is larger than the limit of ${this.limit} bytes (BODY_LIMIT_BYTES)`));
      return;
    }
    callback(null, chunk);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.stopDecoding();
    callback(error);
  }
}
