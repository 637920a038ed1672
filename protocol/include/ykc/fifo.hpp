#pragma once
// A first-in first-out queue on a vector. std::deque allocates ~600 bytes as soon as it is
// constructed; a charger's session has two queues (its frame reader's and its output), nearly
// always empty, so at 10,000 piles that was ~12 % of the bridge's memory per pile. This one
// allocates on the first push, reuses its storage once drained, and moves what is left to the
// front when more than half of it has been taken (amortised O(1) per element).
#include <cstddef>
#include <utility>
#include <vector>

namespace ykc {

template <typename T>
class Fifo {
public:
    bool empty() const noexcept { return head_ == items_.size(); }
    std::size_t size() const noexcept { return items_.size() - head_; }
    T& front() { return items_[head_]; }
    const T& front() const { return items_[head_]; }
    T& operator[](std::size_t i) { return items_[head_ + i]; }  // i-th from the front
    void push_back(T value) { items_.push_back(std::move(value)); }
    template <typename... Args>
    void emplace_back(Args&&... args) {
        items_.emplace_back(std::forward<Args>(args)...);
    }
    void pop_front() {
        if (++head_ == items_.size()) return clear();
        if (head_ >= 16 && head_ * 2 >= items_.size()) {
            items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
    }
    void clear() noexcept {
        items_.clear();
        head_ = 0;
    }

private:
    std::vector<T> items_;
    std::size_t head_ = 0;
};

}  // namespace ykc
