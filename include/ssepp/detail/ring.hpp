// A growable ring buffer: FIFO queues that, once grown to their working
// size, push and pop without allocating (std::deque allocates a block every
// few dozen elements forever). Internal.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace ssepp::detail {

template <class T>
class ring {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  T& front() noexcept { return slots_[head_]; }
  T& back() noexcept { return slots_[(head_ + size_ - 1) & (slots_.size() - 1)]; }
  T& operator[](std::size_t i) noexcept { return slots_[(head_ + i) & (slots_.size() - 1)]; }

  void push_back(T value) {
    if (size_ == slots_.size()) grow();
    slots_[(head_ + size_) & (slots_.size() - 1)] = std::move(value);
    ++size_;
  }
  void pop_front() noexcept {
    slots_[head_] = T{};  // release what the slot holds now, not when reused
    head_ = (head_ + 1) & (slots_.size() - 1);
    --size_;
  }
  void clear() noexcept {
    while (!empty()) pop_front();
  }

 private:
  void grow() {
    // Starts small: most queues of idle subscribers hold one or two items.
    std::vector<T> bigger(slots_.empty() ? 2 : slots_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move((*this)[i]);
    slots_.swap(bigger);
    head_ = 0;
  }
  std::vector<T> slots_;  // size is zero or a power of two
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace ssepp::detail
