"""Fuzz targets that are also regression tests.

    cc_fuzz_target(name = "config_fuzzer", srcs = [...], deps = [...], corpus = glob([...]))

With `--config=fuzz` the binary `name` is a libFuzzer binary (clang-14); run it with
`bazel-bin/<pkg>/<name> -max_total_time=60 <corpus dir>`. In normal builds it links a
small driver instead, and the test `<name>_corpus_test` replays the seed corpus through it,
so every seed input runs under the normal suite and under --config=asan.
"""

def cc_fuzz_target(name, srcs, deps = [], corpus = [], **kwargs):
    native.cc_binary(
        name = name,
        srcs = srcs,
        deps = deps + select({
            "//third_party:fuzzing": [],
            "//conditions:default": ["//services/common:fuzz_driver_main"],
        }),
        linkopts = select({
            "//third_party:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        testonly = True,
        **kwargs
    )
    native.sh_test(
        name = name + "_corpus_test",
        srcs = ["//third_party:run_fuzz_corpus.sh"],
        args = ["$(location :%s)" % name] + ["$(location %s)" % c for c in corpus],
        data = [":" + name] + corpus,
    )
