#include "engine/metrics/metered_stores.h"

namespace weir {

StoreOperationReadings StoreSensors::Readings(int64_t now_ms) const {
  StoreOperationReadings out;
  for (const auto& [operation, sensor] : sensors_)
    out.by_operation[operation] = sensor.Read(now_ms);
  return out;
}

}  // namespace weir
