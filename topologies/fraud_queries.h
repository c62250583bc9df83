// The fraud topology's queryable stores (docs/queries.md): a card's live windows, read from its
// one value in `card-windows` (topologies/fraud_aggregates.h) as the detector reads them.
//
//   POST /state/card-1m/windows    {"card": "4111...", "from": ms, "to": ms}
//   POST /state/card-5m/windows    {"token": "<32 hex>"}               (every partition asked)
//   POST /state/card-windows/key   {"card": "4111..."}                 (the stored slices)
//
// A body names the card by number ("card": its token is the store key and the number, the
// input key, picks the partition) or by token ("token"). Optional: "from" and "to" (epoch ms;
// windows whose start is in [from, to], as Kafka Streams' WindowStore.fetch) and "allow_stale".
// Answers carry the masked card (when given) and the token, never the number.
#ifndef WEIR_TOPOLOGIES_FRAUD_QUERIES_H_
#define WEIR_TOPOLOGIES_FRAUD_QUERIES_H_

#include <vector>

#include "engine/processor/state_query.h"
#include "topologies/fraud_config.h"
#include "topologies/payment.h"

namespace weir::fraud {

// The views of `card-windows`: card-1m and card-5m (windows), card-windows (key).
std::vector<QueryableStore> FraudQueryableStores(const FraudConfig& config,
                                                 const CardTokenizer& tokenizer);

}  // namespace weir::fraud

#endif  // WEIR_TOPOLOGIES_FRAUD_QUERIES_H_
