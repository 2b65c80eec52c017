#include "compare/plots.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/process.h"
#include "compare/plot_model.h"
#include "compare/sustain.h"

namespace dw::compare {
namespace {

// Section 1 first, then section 2: the order the report lists them in.
std::vector<plot::Plot> BuildPlots(const nlohmann::json& r) {
  const results::Run run = Rejudged(results::ParseRun(r));
  plot::Context c = plot::MakeContext(run);
  std::vector<plot::Plot> plots;
  plot::AddLoadPlots(c, &plots);
  plot::AddFailurePlots(c, &plots);
  return plots;
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Status::IOError("cannot write " + path);
  return Status::OK();
}

// The gnuplot executable on PATH, or empty.
std::string FindGnuplot() {
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string dir = p.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string exe = dir + "/gnuplot";
    if (access(exe.c_str(), X_OK) == 0) return exe;
    start = end + 1;
  }
  return "";
}

bool NonEmptyFile(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return !ec && size > 0;
}

}  // namespace

std::vector<PlotInfo> PlannedPlots(const nlohmann::json& results) {
  std::vector<PlotInfo> out;
  for (const auto& p : BuildPlots(results)) out.push_back(p.info);
  return out;
}

Status WritePlots(const nlohmann::json& results, const std::string& dir,
                  std::vector<std::string>* written) {
  std::vector<std::string> ignored;
  if (!written) written = &ignored;
  const std::string plots_dir = dir + "/plots";
  std::error_code ec;
  std::filesystem::create_directories(plots_dir, ec);
  if (ec) return Status::IOError("cannot create " + plots_dir + ": " + ec.message());

  std::vector<plot::Plot> plots = BuildPlots(results);
  const std::string gnuplot = FindGnuplot();
  // pngcairo draws anti-aliased lines; Debian's gnuplot-nox has it, other
  // builds may only have the libgd png terminal.
  std::string png = "png";
  if (!gnuplot.empty() && RunCommand({gnuplot, "-e", "set terminal pngcairo"}, nullptr).ok()) {
    png = "pngcairo";
  }
  for (const auto& p : plots) {
    std::string base = plots_dir + "/" + p.info.name;
    Status s = WriteFile(base + ".dat", plot::DataFile(p));
    if (!s.ok()) return s;
    written->push_back(base + ".dat");
    s = WriteFile(base + ".gp", plot::Script(p, png));
    if (!s.ok()) return s;
    written->push_back(base + ".gp");
  }
  if (gnuplot.empty()) {
    return Status::FailedPrecondition(
        "gnuplot not found in PATH (install gnuplot-nox): the plots' data and scripts are in " +
        plots_dir + ", but no .svg/.png was drawn");
  }

  std::vector<std::string> failures;
  SpawnOptions opts;
  opts.cwd = plots_dir;  // the scripts name their files relative to the folder
  for (const auto& p : plots) {
    std::string base = plots_dir + "/" + p.info.name;
    // A stale image from an earlier render must not pass for this one.
    std::filesystem::remove(base + ".svg", ec);
    std::filesystem::remove(base + ".png", ec);
    std::string output;
    Status s = RunCommand({gnuplot, p.info.name + ".gp"}, &output, opts);
    if (!s.ok()) {
      failures.push_back(p.info.name + ": " + s.message());
      continue;
    }
    for (const char* ext : {".svg", ".png"}) {
      if (NonEmptyFile(base + ext)) {
        written->push_back(base + ext);
      } else {
        failures.push_back(p.info.name + ": gnuplot drew no " + std::string(ext + 1));
      }
    }
  }
  if (!failures.empty()) {
    std::string msg = "gnuplot failed for " + std::to_string(failures.size()) + " plot(s): ";
    for (size_t i = 0; i < failures.size(); ++i) msg += (i ? "; " : "") + failures[i];
    return Status::IOError(msg);
  }
  return Status::OK();
}

}  // namespace dw::compare
