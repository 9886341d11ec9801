/**
 * Issue 19 findings 3 (answer size), 8 (deadline from the body's arrival) and 10 (duplicate keys,
 * Content-Encoding) through app.inject and a real listener. Socket-level limits (timeouts, connection cap,
 * pipelining, duplicate Host) are in http-connections.test.ts.
 */
import { connect } from "node:net";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { ENV, ROUTES } from "../../service/src/contract";
import type { ModelportApp } from "../../service/src/app";
import { MAX_REPORTED_FIELDS } from "../../service/src/errors";
import { findDuplicateKey, hasDuplicateKeys, keysOverLimit, textKeyCount } from "../../service/src/http/json-body";
import { embeddedModel, startTestApp } from "../support/service-app";

let app: ModelportApp;
let record: Record<string, unknown>;

beforeAll(async () => {
  record = { ...(await embeddedModel()).inputExample[0]! };
  app = await startTestApp();
});
afterAll(() => app.close());

const postRaw = (url: string, payload: string | Buffer, headers: Record<string, string> = {}) =>
  app.inject({ method: "POST", url, payload, headers: { "content-type": "application/json", ...headers } });

describe("duplicate JSON keys", () => {
  it("are refused with 400 naming the key and where it is, on every JSON route", async () => {
    const [first, ...rest] = Object.entries(record);
    const text = `{${[first, first, ...rest].map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",")}}`;
    const single = await postRaw(ROUTES.predict, text);
    expect(single.statusCode).toBe(400);
    expect(single.json()).toMatchObject({ fields: [{ field: first![0], problem: "duplicate key" }] });
    expect(single.json().message).toMatch(/appears more than once/);

    const batch = await postRaw(ROUTES.predictBatch, `[${JSON.stringify(record)},${text}]`);
    expect(batch.statusCode).toBe(400);
    expect(batch.json().fields).toEqual([{ field: `[1].${first![0]}`, problem: "duplicate key" }]);

    const v2 = await postRaw(`/v2/models/${app.models.current!.identity.name}/infer`, '{"inputs":[],"inputs":[]}');
    expect(v2.statusCode).toBe(400);
    expect(v2.json().error).toMatch(/inputs appears more than once/);
  });

  it("are told apart from ':' inside strings, escaped quotes and keys repeated in different objects", async () => {
    expect((await postRaw(ROUTES.predictBatch, JSON.stringify([record, record]))).statusCode).toBe(200);
    // Not a duplicate: the same key in two objects, ':' and '"' inside strings. Refused as unknown fields, not as duplicates.
    const tricky = await postRaw(ROUTES.predict, JSON.stringify({ ...record, "a:b": { "a:b": '"a:b":' } }));
    expect(tricky.statusCode).toBe(400);
    expect(tricky.json().message).not.toMatch(/more than once/);
    expect(hasDuplicateKeys('{"a":"x:y","b\\":":"\\"c\\":"}', { a: "x:y", 'b":': '"c":' })).toBe(false);
    expect(hasDuplicateKeys('{"a":"x:y","a":1}', { a: 1 })).toBe(true);
  });

  it("property: never reported for JSON.stringify output, always (and located) when a key is repeated", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        const text = JSON.stringify(value);
        expect(hasDuplicateKeys(text, JSON.parse(text))).toBe(false);
        expect(findDuplicateKey(text)).toBeUndefined();
      }),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1 }), fc.jsonValue({ maxDepth: 2 }), (object, late) => {
        const key = Object.keys(object)[0]!;
        const text = `${JSON.stringify(object).slice(0, -1)},${JSON.stringify(key)}:${JSON.stringify(late)}}`;
        expect(hasDuplicateKeys(text, JSON.parse(text))).toBe(true);
        expect(findDuplicateKey(`[1,{"x":${text}}]`)).toEqual({ key, path: `[1].x.${key}` });
      }),
    );
  });

  it("counts keys in pretty-printed JSON too", () => {
    const value = { a: { b: [1, { c: "d:e" }] }, f: "g" };
    expect(textKeyCount(JSON.stringify(value, null, 2))).toBe(4);
  });
});

describe("Content-Encoding", () => {
  const plain = () => JSON.stringify(record);

  it.each([
    ["gzip", gzipSync],
    ["deflate", deflateSync],
    ["br", brotliCompressSync],
  ] as const)("decodes %s bodies to the same answer as a plain body", async (coding, encode) => {
    const expected = (await postRaw(ROUTES.predict, plain())).json().probability;
    const response = await postRaw(ROUTES.predict, encode(Buffer.from(plain())), { "content-encoding": coding });
    expect(response.statusCode).toBe(200);
    expect(response.json().probability).toBe(expected);
  });

  it("passes identity through and refuses other codings with 415 naming what it accepts", async () => {
    expect((await postRaw(ROUTES.predict, plain(), { "content-encoding": "identity" })).statusCode).toBe(200);
    const zstd = await postRaw(ROUTES.predict, plain(), { "content-encoding": "zstd" });
    expect(zstd.statusCode).toBe(415);
    expect(zstd.json().message).toMatch(/unsupported Content-Encoding "zstd": send one of gzip, deflate, br or identity/);
    const stacked = await postRaw(ROUTES.predict, gzipSync(gzipSync(plain())), { "content-encoding": "gzip, gzip" });
    expect(stacked.statusCode).toBe(415);
  });

  it("applies BODY_LIMIT_BYTES to the decoded size (a gzip bomb gets 413) and answers a corrupt body 400", async () => {
    // 1 MB of JSON whitespace-padded: 1 KB compressed, 1 MB + 1 decoded.
    const bomb = gzipSync(Buffer.from(" ".repeat(1024 * 1024) + plain()));
    expect(bomb.length).toBeLessThan(8 * 1024);
    const tooLarge = await postRaw(ROUTES.predict, bomb, { "content-encoding": "gzip" });
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json().message).toMatch(/decoded request body is larger than the limit of 1048576 bytes/);
    const corrupt = await postRaw(ROUTES.predict, Buffer.from("not gzip at all"), { "content-encoding": "gzip" });
    expect(corrupt.statusCode).toBe(400);
    expect(corrupt.json().message).toMatch(/not valid gzip/);
  });
});

describe("error answers stay small whatever the request holds", () => {
  it("a 1 MB body of 100k unknown keys is refused before it is parsed: a small 413 naming BODY_MAX_KEYS", async () => {
    // Issue 19 finding 3: ~120k unknown keys were answered with an ~8 MB 400 listing every one, and parsing such
    // bodies (~100-150 ms of the loop each) let four clients starve every other one (bench:abuse unknown-fields).
    const unknown = Array.from({ length: 100_000 }, (_, i) => `"${i.toString(36)}":0`).join(",");
    const body = `{${JSON.stringify(record).slice(1, -1)},${unknown}}`;
    expect(body.length).toBeGreaterThan(800_000);
    expect(body.length).toBeLessThan(1024 * 1024);
    const response = await app.inject({ method: "POST", url: ROUTES.predict, payload: body, headers: { "content-type": "application/json" } });
    expect(response.statusCode).toBe(413);
    expect(response.body.length).toBeLessThan(4096);
    expect(response.json().message).toMatch(/100006 object keys, more than the 50000 allowed \(BODY_MAX_KEYS\)/);
    expect(keysOverLimit(body, 50_000)).toBe(100_006);
  });

  it("under the key budget, unknown keys get a 400 of at most a few tens of KB, counting what it leaves out", async () => {
    const unknown = Array.from({ length: 40_000 }, (_, i) => `"${i.toString(36)}":0`).join(",");
    const response = await postRaw(ROUTES.predict, `{${JSON.stringify(record).slice(1, -1)},${unknown}}`);
    expect(response.statusCode).toBe(400);
    expect(response.body.length).toBeLessThan(64 * 1024);
    const answer = response.json();
    // Validation itself stops early (a capped list plus one entry saying there is more); the error layer would cut
    // any longer list at MAX_REPORTED_FIELDS and count the rest in fieldsOmitted.
    expect(answer.fields.length).toBeLessThanOrEqual(MAX_REPORTED_FIELDS);
    expect(answer.fields.at(-1)).toEqual({ field: "(body)", problem: expect.stringMatching(/has more problems/) });
  });

  it("':' inside string values never count against the key budget; BODY_MAX_KEYS sets it", async () => {
    // A batch whose string values hold 60k ':' (timestamps, say) but only 7 keys per record.
    const batch = Array.from({ length: 10 }, () => ({ ...record, origin: `${":".repeat(6_000)}` }));
    expect(keysOverLimit(JSON.stringify(batch), 50_000)).toBeUndefined();
    const small = await startTestApp({ [ENV.bodyMaxKeys]: "100" });
    try {
      const ok = await small.inject({ method: "POST", url: ROUTES.predictBatch, payload: JSON.stringify(Array(10).fill(record)), headers: { "content-type": "application/json" } });
      expect(ok.statusCode).toBe(200);
      const over = await small.inject({ method: "POST", url: ROUTES.predictBatch, payload: JSON.stringify(Array(20).fill(record)), headers: { "content-type": "application/json" } });
      expect(over.statusCode).toBe(413);
      expect(over.json().message).toMatch(/120 object keys, more than the 100 allowed/);
    } finally {
      await small.close();
    }
  });

  it("a single megabyte-long key is cut in the answer", async () => {
    const key = "k".repeat(1_000_000);
    const response = await postRaw(ROUTES.predict, JSON.stringify({ ...record, [key]: 1 }));
    expect(response.statusCode).toBe(400);
    expect(response.body.length).toBeLessThan(4096);
    expect(response.json().fields[0].field).toMatch(/^k+…$/);
  });
});

describe("deadline", () => {
  it("starts when the body has arrived: a slow upload to an idle model is answered by the model, not 'overloaded (timeout)'", async () => {
    // Issue 19 finding 8: the deadline counted from the headers, so a body trickling in longer than
    // REQUEST_TIMEOUT_MS was answered 503 "model overloaded (timeout)" and counted as overload.
    const slowApp = await startTestApp({ [ENV.requestTimeoutMs]: "150" });
    try {
      await slowApp.listen({ port: 0, host: "127.0.0.1" });
      const port = (slowApp.server.address() as { port: number }).port;
      const body = JSON.stringify(record);
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, "127.0.0.1");
        let received = "";
        socket.on("data", (chunk) => {
          received += chunk;
          if (/\r\n\r\n[\s\S]*\}$/.test(received)) {
            socket.destroy();
            resolve(received);
          }
        });
        socket.on("error", reject);
        socket.write(`POST ${ROUTES.predict} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
        // Three slices of the body 200 ms apart: 400 ms of upload against a 150 ms deadline.
        const third = Math.ceil(body.length / 3);
        [0, 1, 2].forEach((i) => setTimeout(() => socket.write(body.slice(i * third, (i + 1) * third)), 200 * i + 10));
      });
      expect(answer).toMatch(/^HTTP\/1.1 200/);
      expect(answer).toMatch(/"fallback":false/);
    } finally {
      await slowApp.close();
    }
  });
});
