import { DELAY_THRESHOLD_MINUTES, flightFeatures, isDelayed, readFlights, readFlightTable } from "../../service/model-kit/flights";

describe("flights data", () => {
  it("reads only the requested month, in departure order, with complete records", async () => {
    const june = await readFlights({ months: [6], limit: 500 });
    expect(june).toHaveLength(500);
    for (const [i, flight] of june.entries()) {
      expect(new Date(flight.departure).getUTCMonth()).toBe(5);
      if (i > 0) expect(flight.departure).toBeGreaterThanOrEqual(june[i - 1].departure);
      expect(flight.origin).toMatch(/^[A-Z]{3}$/);
      expect(flight.destination).toMatch(/^[A-Z]{3}$/);
      expect(flight.distance).toBeGreaterThan(0);
    }
  });

  it("derives the request record from the local departure time", () => {
    // 2001-01-05 was a Friday.
    const features = flightFeatures({ departure: Date.UTC(2001, 0, 5, 17, 45), delay: 3, distance: 812, origin: "ATL", destination: "AUS" });
    expect(features).toEqual({ hour: 17, day_of_week: 5, day_of_month: 5, distance: 812, origin: "ATL", destination: "AUS" });
  });

  it("labels a flight delayed only above the threshold", () => {
    expect(isDelayed({ delay: DELAY_THRESHOLD_MINUTES })).toBe(0);
    expect(isDelayed({ delay: DELAY_THRESHOLD_MINUTES + 1 })).toBe(1);
    expect(isDelayed({ delay: -10 })).toBe(0);
  });

  it("rejects months outside the calendar and negative limits", async () => {
    await expect(readFlightTable({ months: [13] })).rejects.toThrow(/months: 13/);
    await expect(readFlightTable({ limit: -1 })).rejects.toThrow(/limit/);
  });
});
