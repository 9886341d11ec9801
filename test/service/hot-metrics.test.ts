import fc from "fast-check";
import { Counter, Histogram, Registry } from "prom-client";
import { HotCounter, HotHistogram } from "../../service/src/metrics/hot-metrics";

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const LABEL_NAMES = ["model", "variant"] as const;

/** Exposition lines, label order kept: the hot classes must print what prom-client prints, byte for byte. */
async function exposition(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split("\n").filter(Boolean);
}

describe("HotCounter and HotHistogram", () => {
  it("expose exactly what prom-client's Counter and Histogram expose for the same observations", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            model: fc.constantFrom("m", "flight-delay", 'quo"te\\back\nline'),
            variant: fc.constantFrom("stable", "canary"),
            value: fc.oneof(fc.double({ min: 0, max: 5, noNaN: true }), fc.constantFrom(...BUCKETS)),
          }),
          { maxLength: 60 },
        ),
        async (observations) => {
          const hot = new Registry();
          const reference = new Registry();
          const hotHistogram = new HotHistogram({ name: "h", help: "a histogram", labelNames: LABEL_NAMES, buckets: BUCKETS, registers: [hot] });
          const hotCounter = new HotCounter({ name: "c", help: "a counter", labelNames: LABEL_NAMES, registers: [hot] });
          const histogram = new Histogram({ name: "h", help: "a histogram", labelNames: LABEL_NAMES, buckets: BUCKETS, registers: [reference] });
          const counter = new Counter({ name: "c", help: "a counter", labelNames: LABEL_NAMES, registers: [reference] });
          for (const { model, variant, value } of observations) {
            // Half through resolved series (the hot path), half through the label-taking methods.
            if (value > 1) {
              hotHistogram.labels({ model, variant }).observe(value);
              hotCounter.labels({ model, variant }).inc(value);
            } else {
              hotHistogram.observe({ model, variant }, value);
              hotCounter.inc({ model, variant }, value);
            }
            histogram.observe({ model, variant }, value);
            counter.inc({ model, variant }, value);
          }
          expect(await exposition(hot)).toEqual(await exposition(reference));
        },
      ),
      { numRuns: 150 },
    );
  });

  it("puts a value equal to a bucket bound into that bucket (le is inclusive)", async () => {
    const registry = new Registry();
    const histogram = new HotHistogram({ name: "h", help: "h", labelNames: [], buckets: [1, 2], registers: [registry] });
    histogram.labels({}).observe(1);
    histogram.labels({}).observe(2.5);
    const text = await registry.metrics();
    expect(text).toContain('h_bucket{le="1"} 1');
    expect(text).toContain('h_bucket{le="2"} 1');
    expect(text).toContain('h_bucket{le="+Inf"} 2');
    expect(text).toContain("h_sum 3.5");
    expect(text).toContain("h_count 2");
  });

  it("ignores non-finite observations instead of throwing into a request", async () => {
    const registry = new Registry();
    const histogram = new HotHistogram({ name: "h", help: "h", labelNames: ["a"], buckets: [1], registers: [registry] });
    const series = histogram.labels({ a: "x" });
    expect(() => series.observe(Number.NaN)).not.toThrow();
    series.observe(Number.POSITIVE_INFINITY);
    series.observe(0.5);
    expect(await registry.metrics()).toContain('h_count{a="x"} 1');
  });

  it("returns the same series for the same labels, in any key order", () => {
    const counter = new HotCounter({ name: "c", help: "c", labelNames: ["a", "b"] });
    expect(counter.labels({ a: "1", b: "2" })).toBe(counter.labels({ b: "2", a: "1" }));
    expect(counter.labels({ a: "1", b: "2" })).not.toBe(counter.labels({ a: "1", b: "3" }));
  });

  it("removes one label set and resets all, like prom-client", async () => {
    const registry = new Registry();
    const counter = new HotCounter({ name: "c", help: "c", labelNames: ["version"], registers: [registry] });
    counter.inc({ version: "1" });
    counter.inc({ version: "2" }, 3);
    counter.remove({ version: "1" });
    let text = await registry.metrics();
    expect(text).not.toContain('c{version="1"}');
    expect(text).toContain('c{version="2"} 3');
    registry.resetMetrics();
    text = await registry.metrics();
    expect(text).not.toContain("version=");
  });

  it("refuses bad names, labels, increments and buckets with the offending value named", () => {
    expect(() => new HotCounter({ name: "bad-name", help: "", labelNames: [] })).toThrow(/invalid metric name "bad-name"/);
    const counter = new HotCounter({ name: "c", help: "c", labelNames: ["a"] });
    expect(() => counter.inc({ a: "x", b: "y" } as never)).toThrow(/c has no label "b"/);
    expect(() => counter.inc({} as never)).toThrow(/label a must be a string, got undefined/);
    expect(() => counter.inc({ a: "x" }, -1)).toThrow(/finite number >= 0, got -1/);
    expect(() => counter.inc({ a: "x" }, Number.NaN)).toThrow(/got NaN/);
    expect(() => new HotHistogram({ name: "h", help: "h", labelNames: [], buckets: [1, 1] })).toThrow(/distinct finite numbers, got \[1, 1\]/);
    expect(() => new HotHistogram({ name: "h", help: "h", labelNames: [], buckets: [] })).toThrow(/buckets must be/);
  });

  it("registers like a prom-client metric: one name per registry, found by getSingleMetric", async () => {
    const registry = new Registry();
    const histogram = new HotHistogram({ name: "h", help: "h", labelNames: [], buckets: [1], registers: [registry] });
    expect(registry.getSingleMetric("h")).toBe(histogram);
    expect(() => new Counter({ name: "h", help: "again", registers: [registry] })).toThrow(/already been registered/);
    const json = await registry.getMetricsAsJSON();
    expect(json[0]).toMatchObject({ name: "h", type: "histogram" });
  });
});
