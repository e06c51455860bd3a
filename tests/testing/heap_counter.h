// Live heap bytes of the test binary that links this library, so that a test can see what
// a structure really holds and memory actually come back (not only a counter go to zero).
//
//   long long before = testing::LiveHeapBytes();
//   ... build and drop ...
//   EXPECT_EQ(testing::LiveHeapBytes(), before);
//
// Linking it replaces the global operator new and delete: every form libstdc++ has ends in
// the two replaced here (array, nothrow and sized forms call them); aligned forms are not
// counted. Thread-safe. A test that links it must be linked statically (`linkstatic =
// True`): a sanitizer's runtime, loaded first, would otherwise take operator new.
#ifndef TESTS_TESTING_HEAP_COUNTER_H_
#define TESTS_TESTING_HEAP_COUNTER_H_

namespace edge::testing {

long long LiveHeapBytes();

}  // namespace edge::testing

#endif  // TESTS_TESTING_HEAP_COUNTER_H_
