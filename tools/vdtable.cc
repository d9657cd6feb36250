#include <config.h>

#include "vdtable.h"

#include <algorithm>

namespace vd::tools {

Table::Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }

void Table::addRow(std::vector<std::string> row)
{
    row.resize(rows_.front().size());
    rows_.push_back(std::move(row));
}

std::string Table::render() const
{
    const size_t ncols = rows_.front().size();
    std::vector<size_t> widths(ncols, 0);
    for (const auto &row : rows_)
        for (size_t i = 0; i < ncols; ++i)
            widths[i] = std::max(widths[i], row[i].size());

    std::string out;
    auto renderRow = [&](const std::vector<std::string> &row) {
        for (size_t i = 0; i < ncols; ++i) {
            out += ' ';
            out += row[i];
            if (i + 1 < ncols)
                out.append(widths[i] - row[i].size() + 2, ' ');
        }
        out += '\n';
    };
    renderRow(rows_.front());
    size_t dashes = 0;
    for (size_t w : widths)
        dashes += w + 3;
    out.append(dashes, '-');
    out += '\n';
    for (size_t r = 1; r < rows_.size(); ++r)
        renderRow(rows_[r]);
    return out;
}

} // namespace vd::tools
