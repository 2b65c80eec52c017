#include "demo/narrator.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/process.h"

namespace dw::demo {
namespace {

// Display width: UTF-8 continuation bytes take no column.
size_t Width(const std::string& s) {
  size_t w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;
  return w;
}

std::string Cell(const std::string& s, size_t max_cell) {
  std::string one = OneLine(s);
  if (Width(one) <= max_cell) return one;
  // Cut on a character boundary.
  size_t w = 0, i = 0;
  for (; i < one.size(); ++i) {
    if ((static_cast<unsigned char>(one[i]) & 0xC0) != 0x80) {
      if (w == max_cell - 3) break;
      ++w;
    }
  }
  return one.substr(0, i) + "...";
}

void Pad(std::string* line, const std::string& cell, size_t width) {
  *line += cell;
  line->append(width - Width(cell), ' ');
}

}  // namespace

std::string Table::Render(size_t max_cell) const {
  std::vector<std::vector<std::string>> cells;
  cells.reserve(rows.size());
  std::vector<size_t> width(header.size(), 0);
  for (size_t i = 0; i < header.size(); ++i) width[i] = Width(header[i]);
  for (const auto& r : rows) {
    std::vector<std::string> line;
    for (size_t i = 0; i < header.size(); ++i) {
      line.push_back(Cell(i < r.size() ? r[i] : "", max_cell));
      width[i] = std::max(width[i], Width(line.back()));
    }
    cells.push_back(std::move(line));
  }
  auto render = [&](const std::vector<std::string>& line) {
    std::string s = "    ";
    for (size_t i = 0; i < line.size(); ++i) {
      if (i + 1 == line.size()) {
        s += line[i];
      } else {
        Pad(&s, line[i], width[i]);
        s += "  ";
      }
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  std::string out = "  " + caption + (rows.empty() ? ": (none)\n" : ":\n");
  if (rows.empty()) return out;
  out += render(header);
  std::vector<std::string> rule;
  for (size_t w : width) rule.push_back(std::string(w, '-'));
  out += render(rule);
  for (const auto& line : cells) out += render(line);
  return out;
}

Narrator::Narrator(const NarratorOptions& opts) : opts_(opts) {}

void Narrator::Title(const std::string& lesson, const std::string& summary) {
  out() << "=== dualwrite demo " << lesson << " ===\n" << summary << "\n" << std::flush;
}

void Narrator::Pace() {
  if (step_ == 0) return;
  if (opts_.step && opts_.in) {
    out() << "  (Enter for the next step)" << std::flush;
    std::string line;
    std::getline(*opts_.in, line);
  }
  if (opts_.slow_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(opts_.slow_ms));
}

void Narrator::Step(const std::string& title, const std::string& what) {
  Pace();
  ++step_;
  out() << "\n[" << step_ << "] " << title << "\n";
  if (!what.empty()) out() << "  " << what << "\n";
  out() << std::flush;
}

void Narrator::Sql(const std::string& who, const std::string& sql) {
  out() << "  SQL " << who << "> " << sql << (sql.ends_with(";") ? "" : ";") << "\n" << std::flush;
}

void Narrator::Http(const std::string& method, const std::string& target, const std::string& body) {
  out() << "  HTTP> " << method << " " << target << (body.empty() ? "" : " " + body) << "\n"
        << std::flush;
}

void Narrator::HttpReply(int status, const std::string& body) {
  std::string b = OneLine(body);
  while (!b.empty() && b.back() == ' ') b.pop_back();
  if (b.size() > 300) b = b.substr(0, 297) + "...";
  out() << "  HTTP< " << status << (b.empty() ? "" : " " + b) << "\n" << std::flush;
}

void Narrator::Command(const std::vector<std::string>& argv) {
  std::string line = "  $";
  const std::string self = SelfExe();
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string a = i == 0 && argv[i] == self ? "dualwrite" : argv[i];
    if (a.empty() || a.find_first_of(" '\"\\$`*?&;|<>()") != std::string::npos) {
      std::string q = "'";  // POSIX shell quoting: ' becomes '\''
      for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      a = q + "'";
    }
    line += " " + a;
  }
  out() << line << "\n" << std::flush;
}

void Narrator::Output(const std::string& text) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out() << "  | " << text.substr(start, end - start) << "\n";
    start = end + 1;
  }
  out() << std::flush;
}

void Narrator::Note(const std::string& text) { out() << "  " << text << "\n" << std::flush; }

void Narrator::Show(const Table& t) { out() << t.Render() << std::flush; }

void Narrator::Conclude(bool held, const std::string& text) { claims_.emplace_back(held, text); }

bool Narrator::all_held() const {
  return std::all_of(claims_.begin(), claims_.end(), [](const auto& c) { return c.first; });
}

bool Narrator::Conclusion() {
  out() << "\n=== what we saw ===\n";
  for (const auto& [held, text] : claims_) {
    out() << (held ? "  yes: " : "  NO:  ") << text << "\n";
  }
  bool ok = all_held() && !claims_.empty();
  out() << (ok ? "The lesson showed what it should.\n"
               : "The lesson did NOT show what it should (see the NO lines).\n")
        << std::flush;
  return ok;
}

}  // namespace dw::demo
