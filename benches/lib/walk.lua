-- wrk: walk a list of request paths, each thread from its own random offset, asking for
-- gzip like a browser. Arguments (after wrk's --): LIST [FORMAT]; FORMAT (string.format,
-- default "%s") turns a line of LIST into a path, e.g. "/tiles/basemap/%s.mvt".
-- Prints one line:
--   WALK requests/s p50_ms p90_ms p99_ms errors 404s requests max_ms
-- 404s are counted apart from the errors: Martin answers a composite tile below every
-- member's minzoom with 404 where Formosa answers an empty 200; both mean "nothing here".
local paths, idx, threads = {}, 0, {}
not_found = 0
function setup(thread) table.insert(threads, thread) end
function init(args)
  local format = args[2] or "%s"
  for line in io.lines(args[1]) do paths[#paths + 1] = string.format(format, line) end
  idx = math.random(#paths)
end
function request()
  idx = idx % #paths + 1
  return wrk.format("GET", paths[idx], { ["Accept-Encoding"] = "gzip" })
end
function response(status, headers, body)
  if status == 404 then not_found = not_found + 1 end
end
function done(summary, latency, requests)
  local nf = 0
  for _, t in ipairs(threads) do nf = nf + t:get("not_found") end
  local e = summary.errors
  io.write(string.format("WALK %.1f %.2f %.2f %.2f %d %d %d %.2f\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout - nf, nf, summary.requests, latency.max / 1000))
end
