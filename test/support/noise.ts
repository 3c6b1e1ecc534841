/** Seeded noise for the judge's simulations (with dev/simulator.ts mulberry32). */

// Module-local, read once: inside jest's vm context each lookup of a global goes through the context's interceptor.
const Math = globalThis.Math;

/** A standard normal draw (Box-Muller). */
export function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
}

/** A Poisson draw with this mean (Knuth). */
export function poisson(rand: () => number, mean: number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  for (let p = rand(); p > limit; p *= rand()) k++;
  return k;
}
