import Protocol

/// Randomized tests draw from a seeded FastRandom (SplitMix64), so a failure prints a seed
/// that reproduces it.
typealias SeededGenerator = FastRandom
