// How the engine packs rows of different lengths into forward passes: rows sorted longest first,
// each pass taking as many consecutive rows as fit in max_batch_tokens at the length of its first
// (longest) row, padding included, and at least one.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

namespace modelswarm::model {

/// Indices 0..n-1 ordered by decreasing length(i), ties in index order.
template <typename Length>
std::vector<int64_t> longest_first(int64_t n, Length&& length) {
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return length(a) > length(b); });
  return order;
}

/// Rows of the next pass, given the rows left and the length of the pass's longest row.
inline int64_t rows_per_pass(int64_t rows_left, int64_t longest, int64_t max_batch_tokens) {
  return std::max<int64_t>(1, std::min(rows_left, max_batch_tokens / std::max<int64_t>(longest, 1)));
}

}  // namespace modelswarm::model
