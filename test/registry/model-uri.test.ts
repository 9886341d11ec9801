import fc from "fast-check";
import { formatModelUri, ModelUriError, parseModelUri, type ModelUri } from "../../service/src/registry";

describe("parseModelUri", () => {
  test.each<[string, ModelUri]>([
    ["models:/flight-delay@champion", { kind: "alias", name: "flight-delay", alias: "champion" }],
    ["models:/flight delay@challenger-2", { kind: "alias", name: "flight delay", alias: "challenger-2" }],
    ["models:/flight-delay/3", { kind: "version", name: "flight-delay", version: "3" }],
    ["models:/flight-delay/007", { kind: "version", name: "flight-delay", version: "7" }],
    ["models:/flight-delay/Production", { kind: "stage", name: "flight-delay", stage: "Production" }],
    ["models:/flight-delay/staging", { kind: "stage", name: "flight-delay", stage: "Staging" }],
    ["models:/flight-delay/ARCHIVED", { kind: "stage", name: "flight-delay", stage: "Archived" }],
    ["models:/flight-delay/latest", { kind: "latest", name: "flight-delay" }],
    ["models:/flight-delay/Latest", { kind: "latest", name: "flight-delay" }],
    ["MODELS:/m/1", { kind: "version", name: "m", version: "1" }],
    ["service/models/flight-delay", { kind: "local", path: "service/models/flight-delay" }],
    ["/srv/models/flight-delay/", { kind: "local", path: "/srv/models/flight-delay/" }],
    ["./model", { kind: "local", path: "./model" }],
    ["file:///srv/models/flight%20delay", { kind: "local", path: "/srv/models/flight delay" }],
  ])("%s", (uri, expected) => {
    expect(parseModelUri(uri)).toEqual(expected);
  });

  test.each<[string, RegExp]>([
    ["", /it is empty/],
    ["   ", /it is empty/],
    ["models:/", /model name is missing/],
    ["models:flight-delay/1", /model name is missing/],
    ["models://profile@databricks/m/1", /no host/],
    ["models:/flight-delay", /no alias, stage or version/],
    ["models:/flight-delay@", /alias after '@' is empty/],
    ["models:/@champion", /model name is empty/],
    ["models:/ /1", /model name is empty/],
    ["models:/a/b/c", /cannot contain '\/'/],
    ["models:/flight-delay/", /version or stage after the model name is empty/],
    ["models:/flight-delay/Prod", /"Prod" is neither a version number nor a stage/],
    ["models:/flight-delay/1@champion", /either an alias or a version/],
    ["models:/a@b@c", /cannot contain '@'/],
    ["s3://bucket/model", /scheme "s3:" is not supported/],
    ["runs:/abc/model", /scheme "runs:" is not supported/],
    ["file://remote-host/model", /not a usable file URL/],
    ["model\u0000dir", /control characters/],
  ])("rejects %j", (uri, problem) => {
    let thrown: unknown;
    try {
      parseModelUri(uri);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ModelUriError);
    expect((thrown as Error).message).toMatch(problem);
    // Every rejection says what would have been accepted.
    expect((thrown as Error).message).toContain("models:/<name>@<alias>");
  });

  test("never throws anything but ModelUriError, and what it accepts formats back to an equivalent URI", () => {
    const piece = fc.constantFrom("models:", "/", "@", "//", "latest", "Production", "staging", "7", "007", "a", "flight-delay", " ", "file:", "s3://", "\u0000", "é", "%20");
    const uri = fc.oneof(fc.string({ unit: "grapheme", maxLength: 30 }), fc.array(piece, { maxLength: 8 }).map((parts) => parts.join("")));
    fc.assert(
      fc.property(uri, (candidate) => {
        let parsed: ModelUri;
        try {
          parsed = parseModelUri(candidate);
        } catch (error) {
          return error instanceof ModelUriError && error.uri === candidate;
        }
        return parsed.kind === "local" || expect(parseModelUri(formatModelUri(parsed))).toEqual(parsed) === undefined;
      }),
      { numRuns: 2000 },
    );
  });
});
