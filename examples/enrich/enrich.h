// Orders enriched from a table of customers and a global table of products: a stream-table join
// (co-partitioned by customer id) and a stream-global-table join (on the product id the order
// names; every instance holds every product).
//
//   orders     key customer id, value "<product id>,<quantity>"
//   customers  key customer id, value the customer's name (a table: the latest per id)
//   products   key product id, value the product's name (a global table)
//   enriched   key customer id, value "<customer> bought <quantity> x <product>"; an order of
//              an unknown customer says "someone", one of an unknown product is dropped
#ifndef WEIR_EXAMPLES_ENRICH_ENRICH_H_
#define WEIR_EXAMPLES_ENRICH_ENRICH_H_

#include <functional>
#include <optional>
#include <string>

#include "engine/dsl/streams_builder.h"

namespace enrich {

inline constexpr char kOrders[] = "orders";
inline constexpr char kCustomers[] = "customers";
inline constexpr char kProducts[] = "products";
inline constexpr char kEnriched[] = "enriched";

// `on_enriched`, when given, also hears every enriched order (the program prints them).
inline absl::StatusOr<weir::Topology> BuildTopology(
    std::function<void(const std::string& customer_id, const std::string& line)> on_enriched =
        {}) {
  using weir::serdes::String;
  weir::StreamsBuilder builder;
  weir::KTable<std::string, std::string> customers = builder.Table<std::string, std::string>(
      kCustomers, String(), String(), weir::Materialized<std::string>::As("customers"));
  weir::GlobalKTable<std::string, std::string> products =
      builder.GlobalTable<std::string, std::string>(kProducts, String(), String());
  customers.Queryable();  // POST /state/customers/key {"key": "c1"}
  builder.Stream<std::string, std::string>(kOrders, String(), String())
      .LeftJoin(customers,
                [](const std::string& order, const std::optional<std::string>& customer) {
                  return customer.value_or("someone") + "," + order;
                })
      .Join(
          products,
          [](const std::string&, const std::string& order) {  // "<customer>,<product>,<qty>"
            const size_t first = order.find(',');
            return order.substr(first + 1, order.rfind(',') - first - 1);
          },
          [](const std::string& order, const std::string& product) {
            return order.substr(0, order.find(',')) + " bought " +
                   order.substr(order.rfind(',') + 1) + " x " + product;
          })
      .Peek([on_enriched](const std::string& id, const std::string& line) {
        if (on_enriched) on_enriched(id, line);
      })
      .To(kEnriched, weir::Produced<std::string, std::string>::With(String(), String()));
  return builder.Build();
}

}  // namespace enrich

#endif  // WEIR_EXAMPLES_ENRICH_ENRICH_H_
