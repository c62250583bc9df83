#include "common/byte_order.h"

#include <gtest/gtest.h>

#include <string>

namespace weir {
namespace {

TEST(ByteOrder, BigEndianSortsAsNumbersAndRoundTrips) {
  char a[8], b[8];
  StoreBigEndian64(a, 0x0102030405060708ULL);
  EXPECT_EQ(std::string(a, 8), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(LoadBigEndian64(a), 0x0102030405060708ULL);
  StoreBigEndian64(a, 255);
  StoreBigEndian64(b, 256);
  EXPECT_LT(std::string(a, 8), std::string(b, 8));  // as the numbers do
}

TEST(ByteOrder, LittleEndianFieldsRoundTripAndRefuseShortInput) {
  std::string out;
  AppendLittleEndian(out, 0x0102, 2);
  AppendLittleEndian(out, 7, 4);
  EXPECT_EQ(out, std::string("\x02\x01\x07\x00\x00\x00", 6));
  absl::string_view in = out;
  uint64_t v = 0;
  ASSERT_TRUE(ConsumeLittleEndian(in, 2, &v));
  EXPECT_EQ(v, 0x0102u);
  ASSERT_TRUE(ConsumeLittleEndian(in, 4, &v));
  EXPECT_EQ(v, 7u);
  EXPECT_FALSE(ConsumeLittleEndian(in, 1, &v));
}

}  // namespace
}  // namespace weir
