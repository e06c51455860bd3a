// MessageSummary: one AlwaysOn message as ws_connection.verbose logs it (at TRACE): its
// kind, ids, entity and characteristic, and how much it carries, never a value. An AUTH
// shows its claims' names only (never the app key); a request's parameters, a response's
// content and headers are counted, not shown. Names from the peer are LogSafe-bounded.
//
//   LogTrace(absl::StrCat("sent ", MessageSummary(message), " (", bytes.size(), " bytes)"));
//   -> sent PUT request 12 session 7: THING Pump1 PROPERTIES Temperature, params 1 row
//      x 1 field (61 bytes)
#ifndef SERVICES_ALWAYSON_MESSAGE_SUMMARY_H_
#define SERVICES_ALWAYSON_MESSAGE_SUMMARY_H_

#include <string>

#include "services/alwayson/message.h"

namespace edge::alwayson {

std::string MessageSummary(const Message& message);

}  // namespace edge::alwayson

#endif  // SERVICES_ALWAYSON_MESSAGE_SUMMARY_H_
