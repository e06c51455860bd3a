#include "restd/restd_metrics.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace edge::restd {
namespace {

TEST(RestdMetricsTest, RoutesAreClassesNeverThePathItself) {
  EXPECT_EQ(RestdMetrics::RouteOf("/Thingworx/Things/Pump1/Properties/Temp"), "properties");
  EXPECT_EQ(RestdMetrics::RouteOf("/Thingworx/Things/Pump1/Properties?x=1"), "properties");
  EXPECT_EQ(RestdMetrics::RouteOf("/Thingworx/Things/Pump1/Services/Reset"), "services");
  EXPECT_EQ(RestdMetrics::RouteOf("/Thingworx/Things/LocalEms/Services/AddEdgeThing"),
            "edge_things");
  EXPECT_EQ(RestdMetrics::RouteOf("/Thingworx/Things/LocalEms/Properties/isConnected"),
            "local_ems");
  EXPECT_EQ(RestdMetrics::RouteOf("/Thingworx/Things/Pump1/Events/Alarm"), "other");
  EXPECT_EQ(RestdMetrics::RouteOf("/"), "other");
  EXPECT_EQ(RestdMetrics::RouteOf(std::string(100000, '/')), "other");
  EXPECT_EQ(RestdMetrics::RouteOf("/a/b/c/d/e/f"), "other");
}

TEST(RestdMetricsTest, AnUnusualMethodIsCountedAsOther) {
  prometheus::Registry registry;
  RestdMetrics metrics(registry);
  metrics.Request("/x", "PROPFIND", 404);
  metrics.Request("/x", "GET", 404);
  std::set<std::string> methods;
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name != "edge_restd_requests_total") continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      for (const prometheus::ClientMetric::Label& l : m.label) {
        if (l.name == "method") methods.insert(l.value);
      }
    }
  }
  EXPECT_EQ(methods, (std::set<std::string>{"GET", "other"}));
}

}  // namespace
}  // namespace edge::restd
