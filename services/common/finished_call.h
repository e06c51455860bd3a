// Finished: a callback-API unary method whose work is already done (refused before anything
// was started, or answered at once) finishes with `status`. trustd's and edged's callback
// methods use it.
//
//   if (!s.ok()) return Finished(context, s);
#ifndef SERVICES_COMMON_FINISHED_CALL_H_
#define SERVICES_COMMON_FINISHED_CALL_H_

#include <grpcpp/grpcpp.h>

#include <utility>

namespace edge {

inline grpc::ServerUnaryReactor* Finished(grpc::CallbackServerContext* context,
                                          grpc::Status status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

}  // namespace edge

#endif  // SERVICES_COMMON_FINISHED_CALL_H_
