import { TestPostgres } from "../support/postgres";

describe("TestPostgres", () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await TestPostgres.start();
  });
  afterAll(async () => {
    await pg?.destroy();
  });

  it("serves queries, refuses a wrong password, and survives an immediate stop and restart on the same port", async () => {
    const url = await pg.createDatabase("harness");
    expect(url).toContain(`:${pg.port}/harness`);
    await pg.query("CREATE TABLE t (x int)", [], "harness");
    await pg.query("INSERT INTO t VALUES (1)", [], "harness");
    const { Client } = await import("pg");
    const wrong = new Client({ connectionString: pg.url("harness", { password: "wrong" }) });
    await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
    await pg.stop("immediate");
    await expect(pg.query("SELECT 1")).rejects.toThrow();
    await pg.start();
    expect(await pg.query("SELECT count(*)::int AS n FROM t", [], "harness")).toEqual([{ n: 1 }]);
  });
});
