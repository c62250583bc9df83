// Kafka Streams' WordCountDemo on weir: lines of text in, a running count per word out.
#ifndef WEIR_EXAMPLES_WORD_COUNT_WORD_COUNT_H_
#define WEIR_EXAMPLES_WORD_COUNT_WORD_COUNT_H_

#include <cctype>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/dsl/streams_builder.h"

namespace word_count {

inline constexpr char kInput[] = "streams-plaintext-input";
inline constexpr char kOutput[] = "streams-wordcount-output";

// The words of a line, lower-cased, split at anything that is not a letter or a digit.
inline std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  for (char c : line + " ") {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  return words;
}

// kInput (any key, a line per value) -> kOutput (the word, its count so far as a 64-bit
// big-endian number, as Kafka's LongSerializer writes it). `on_count`, when given, also hears
// every count (the program prints the last ones).
inline absl::StatusOr<weir::Topology> BuildTopology(
    std::function<void(const std::string& word, int64_t count)> on_count = {}) {
  using weir::serdes::String;
  weir::StreamsBuilder builder;
  weir::KStream<std::string, std::optional<int64_t>> counts =
      builder.Stream<std::string, std::string>(kInput, String(), String())
          .FlatMapValues([](const std::string& line) { return Words(line); })
          .GroupBy([](const std::string&, const std::string& word) { return word; },
                   weir::Grouped<std::string, std::string>::With(String(), String()))
          .Count(weir::Materialized<int64_t>::As("counts-store"))
          .ToStream();
  if (on_count) {
    counts.Foreach([on_count](const std::string& word, const std::optional<int64_t>& count) {
      if (count.has_value()) on_count(word, *count);
    });
  }
  counts.To(kOutput, weir::Produced<std::string, std::optional<int64_t>>::With(
                         String(), weir::serdes::Optional(weir::serdes::Int64())));
  return builder.Build();
}

}  // namespace word_count

#endif  // WEIR_EXAMPLES_WORD_COUNT_WORD_COUNT_H_
