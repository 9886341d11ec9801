import { Registry } from "prom-client";
import { PredictionLogWriter, createPool } from "../../service/src/prediction-log/writer";
import { TestPostgres } from "../support/postgres";
import { entry, memoryLogger, rowCount, tempDir, waitFor } from "./support";

describe("PredictionLogWriter", () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await TestPostgres.start();
  });
  afterAll(async () => {
    await pg?.destroy();
  });

  it("writes recorded entries in batches", async () => {
    const url = await pg.createDatabase("smoke");
    const pool = createPool(url, "r1");
    const logger = memoryLogger();
    const writer = new PredictionLogWriter({ pool, replica: "r1", spillDir: tempDir("spill-"), logger, registry: new Registry() });
    writer.start();
    for (let i = 0; i < 1234; i++) writer.record(entry(i));
    await waitFor(async () => (await rowCount(pg, "smoke")) === 1234, 20000, "rows");
    await writer.close();
    await pool.end();
    console.log(logger.lines, await pg.query("select seq, replica, created_at from prediction_log limit 2", [], "smoke"));
  });
});
