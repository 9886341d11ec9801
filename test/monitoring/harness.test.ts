// The real-component harness itself: a pushed sample travels Pushgateway -> Prometheus -> query API.
import { RunningPrometheus, RunningPushgateway, startPrometheus, startPushgateway } from "../support/prometheus";

describe("Prometheus + Pushgateway harness", () => {
  let pushgateway: RunningPushgateway;
  let prometheus: RunningPrometheus;
  beforeAll(async () => {
    pushgateway = await startPushgateway();
    prometheus = await startPrometheus({ scrape: [{ jobName: "pushgateway", targets: [pushgateway.address], honorLabels: true }] });
  });
  afterAll(async () => {
    await prometheus?.stop();
    await pushgateway?.stop();
  });

  it("keeps the pushed job and grouping labels (honor_labels) and answers instant queries", async () => {
    await pushgateway.push("harness", { model: "m/1" }, "# TYPE harness_value gauge\nharness_value 42\n");
    expect(await pushgateway.scrape()).toContain('harness_value{instance="",job="harness",model="m/1"} 42');
    const samples = await prometheus.waitForSeries("harness_value", 20000);
    expect(samples).toEqual([{ metric: expect.objectContaining({ __name__: "harness_value", job: "harness", model: "m/1" }), value: 42 }]);
    await expect(prometheus.query("sum(")).rejects.toThrow(/parse error/);
  });
});
