// Compile-time assertions for the type tests. tsc only checks these files; nothing here runs.

/** True only when A and B are the same type (not merely assignable one way). */
export type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** The value must be assignable to T. */
export declare function expectType<T>(value: T): void;

/** Call as `expectExact<Actual, Expected>(true)`: the argument is `false` when they differ. */
export declare function expectExact<A, B>(same: Equal<A, B>): void;
