// The interval BENCHMARKS.md prints next to each median ratio: the right order statistics for the round count,
// and a coverage that holds when rounds are drawn from a skewed distribution (the claim the report makes).
import { medianInterval } from "../../bench/median-interval";

it("takes the 2nd lowest and 2nd highest of 8 rounds, at 93%", () => {
  // The PostgreSQL rounds of the 12:13 UTC run on 2026-12-02, in the order they ran.
  const interval = medianInterval([0.84, 0.9, 0.8, 0.86, 0.88, 0.92, 0.87, 0.94]);
  expect(interval).toEqual({ low: 0.84, high: 0.92, coverage: 1 - 18 / 256 });
});

it("widens or narrows with the round count, and gives none below 5 rounds at 90%", () => {
  const rounds = (n: number) => Array.from({ length: n }, (_, i) => n - i);
  expect(medianInterval(rounds(4))).toBeUndefined();
  expect(medianInterval(rounds(4), 0.8)).toMatchObject({ low: 1, high: 4, coverage: 1 - 2 / 16 });
  expect(medianInterval(rounds(5))).toMatchObject({ low: 1, high: 5, coverage: 1 - 2 / 32 });
  // 16 rounds (the logging and online-drift sections): the 5th from each end; P(Binomial(16, 1/2) <= 4) = 2517 / 65536.
  expect(medianInterval(rounds(16))).toMatchObject({ low: 5, high: 12, coverage: 1 - (2 * 2517) / 65536 });
  expect(medianInterval([])).toBeUndefined();
});

it("ignores rounds that did not produce a number", () => {
  expect(medianInterval([Number.NaN, 3, 1, 2, 5, 4, Number.POSITIVE_INFINITY])).toMatchObject({ low: 1, high: 5 });
});

it("contains the true median as often as it says, for skewed rounds", () => {
  let seed = 42;
  const uniform = () => ((seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) + 0.5) / 2 ** 32;
  // Exponential rounds: a long tail on one side, like a VM's slow phases. Median ln 2.
  const round = () => -Math.log(uniform());
  const trials = 20_000;
  let inside = 0;
  for (let t = 0; t < trials; t++) {
    const interval = medianInterval(Array.from({ length: 8 }, round))!;
    if (interval.low <= Math.LN2 && Math.LN2 <= interval.high) inside++;
  }
  expect(Math.abs(inside / trials - (1 - 18 / 256))).toBeLessThan(0.01);
});
