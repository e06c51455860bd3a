"""C++ and gRPC code generation with Debian's system protoc and grpc_cpp_plugin.

Usage:
    load("//third_party:proto.bzl", "cc_grpc_library")
    cc_grpc_library(name = "trust_cc_grpc", srcs = ["trust.proto"], deps = [])

Generates <stem>.pb.{h,cc} (and <stem>.grpc.pb.{h,cc} when `grpc = True`) next to each
proto, so `#include "proto/trust/v1/trust.pb.h"` works from anywhere in the workspace.
Imports resolve against the workspace root and the system include directory.
"""

def cc_grpc_library(name, srcs, deps = [], grpc = True, visibility = None):
    outs = []
    for src in srcs:
        stem = src[:-len(".proto")]
        outs += [stem + ".pb.h", stem + ".pb.cc"]
        if grpc:
            outs += [stem + ".grpc.pb.h", stem + ".grpc.pb.cc"]

    pkg = native.package_name()
    out_flags = "--cpp_out=$(GENDIR)"
    if grpc:
        out_flags += " --grpc_out=$(GENDIR) --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin"
    native.genrule(
        name = name + "_gen",
        srcs = srcs,
        outs = outs,
        cmd = " ".join([
            "/usr/bin/protoc",
            "-I.",
            "-I/usr/include",
            out_flags,
        ] + ["%s/%s" % (pkg, s) if pkg else s for s in srcs]),
        message = "protoc " + " ".join(srcs),
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = deps + [
            "//third_party:protobuf",
        ] + (["//third_party:grpc"] if grpc else []),
        visibility = visibility,
    )
