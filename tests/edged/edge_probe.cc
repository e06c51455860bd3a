// A separate process for edged's caller-policy tests: run as an unprivileged uid, it calls
// edged and exits with one bit set per expectation that did not hold.
//   edge_probe SOCKET        its rule in edged.callers allows Status only
//   edge_probe SOCKET files  its rule allows Serve but neither ServeFiles nor CopyFile
#include <grpcpp/grpcpp.h>

#include "proto/edge/v1/edge.grpc.pb.h"

int main(int argc, char** argv) {
  namespace v1 = ::edge::v1;
  if (argc != 2 && argc != 3) return 100;
  auto stub = v1::EdgeService::NewStub(
      grpc::CreateChannel(std::string("unix:") + argv[1], grpc::InsecureChannelCredentials()));
  int failures = 0;
  if (argc == 3 && std::string(argv[2]) == "files") {
    {
      // Its Things, yes; their files served by edged, no.
      grpc::ClientContext context;
      auto stream = stub->Serve(&context);
      v1::ServeMessage reg;
      reg.mutable_register_()->add_things("Sensor9");
      reg.mutable_register_()->add_file_things("Sensor9");
      stream->Write(reg);
      stream->WritesDone();
      v1::PlatformRequest ignored;
      while (stream->Read(&ignored)) {
      }
      grpc::Status s = stream->Finish();
      if (s.error_code() != grpc::StatusCode::PERMISSION_DENIED) failures |= 1;
      if (s.error_message().find("ServeFiles") == std::string::npos) failures |= 2;
    }
    {
      grpc::ClientContext context;
      v1::CopyFileRequest req;
      req.set_thing("Pump1");
      req.set_path("/out/a.txt");
      req.set_repository("SystemRepository");
      req.set_repository_path("/a.txt");
      auto reader = stub->CopyFile(&context, req);
      v1::CopyFileProgress ignored;
      while (reader->Read(&ignored)) {
      }
      if (reader->Finish().error_code() != grpc::StatusCode::PERMISSION_DENIED) failures |= 4;
    }
    return failures;
  }
  {
    grpc::ClientContext context;
    v1::StatusResponse status;
    if (!stub->Status(&context, v1::StatusRequest(), &status).ok()) failures |= 1;
  }
  {
    grpc::ClientContext context;
    v1::WritePropertyRequest req;
    req.set_thing("Pump1");
    req.set_property("Temperature");
    req.mutable_value()->set_base_type(v1::NUMBER);
    req.mutable_value()->set_number_value(1);
    v1::Delivery out;
    grpc::Status s = stub->WriteProperty(&context, req, &out);
    if (s.error_code() != grpc::StatusCode::PERMISSION_DENIED) failures |= 2;
    if (s.error_message().find("edged.callers") == std::string::npos) failures |= 4;
  }
  {
    grpc::ClientContext context;
    auto stream = stub->Serve(&context);
    v1::ServeMessage reg;
    reg.mutable_register_()->add_things("Stolen");
    stream->Write(reg);
    stream->WritesDone();
    v1::PlatformRequest ignored;
    while (stream->Read(&ignored)) {
    }
    if (stream->Finish().error_code() != grpc::StatusCode::PERMISSION_DENIED) failures |= 8;
  }
  return failures;
}
