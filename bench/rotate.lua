-- wrk script: GET /<name> for names read from a file (one per line).
-- Usage: wrk -s rotate.lua URL -- NAMES_FILE [rotate|unique]
--   rotate: every thread cycles over all names from a random start (warm traffic);
--   unique: the threads split the file and never repeat a name (first-sight traffic),
--           so the file must hold more names than the run will ask for.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local names = {}
local idx = 0
local last = 0

function init(args)
  local mode = args[2] or "rotate"
  for line in io.lines(args[1]) do
    if #line > 0 then names[#names + 1] = line end
  end
  if mode == "unique" then
    local share = math.floor(#names / counter_total())
    idx = id * share
    last = idx + share
  else
    idx = math.random(#names)
    last = 0
  end
end

function counter_total()
  -- wrk passes the thread count on the command line; WRK_THREADS mirrors it for this script.
  return tonumber(os.getenv("WRK_THREADS") or "2")
end

function request()
  idx = idx + 1
  if last > 0 then
    if idx > last then idx = last end  -- out of unique names: repeat the last (the report says so)
  elseif idx > #names then
    idx = 1
  end
  return wrk.format("GET", "/" .. names[idx])
end
