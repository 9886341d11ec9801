import { trend, type SoakSample } from "../../bench/soak";

const series = (values: (t: number) => number): SoakSample[] =>
  Array.from({ length: 120 }, (_, t) => ({ atS: t, rssMb: values(t), fds: 40, loopP99Ms: Number.NaN, loopMaxMs: 0 }));
const rssFlat = (first: number, last: number) => last <= first * 1.1 + 5;

describe("soak trend", () => {
  it("calls noisy but level memory flat, with a slope near zero", () => {
    const t = trend(series((i) => 150 + ((i * 7919) % 13) - 6), (s) => s.rssMb, rssFlat);
    expect(t.flat).toBe(true);
    expect(Math.abs(t.slopePerMinute)).toBeLessThan(2);
  });

  it("calls a leak not flat, with its slope per minute", () => {
    const t = trend(series((i) => 150 + i / 2), (s) => s.rssMb, rssFlat); // 30 MB a minute
    expect(t.flat).toBe(false);
    expect(t.slopePerMinute).toBeCloseTo(30, 5);
    expect(t.lastMedian - t.firstMedian).toBeGreaterThan(40);
  });

  it("ignores samples that could not be read, and is not flat without any", () => {
    expect(trend(series(() => 1), (s) => s.loopP99Ms, () => true).flat).toBe(false);
  });
});
