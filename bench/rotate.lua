-- wrk script: each request asks for the next name from a file (one per line), in rotation.
-- Usage: wrk -s rotate.lua URL -- NAMES_FILE [PREFIX]
-- Each wrk thread starts at a different offset so threads do not ask in lockstep.
local names = {}
local idx = 0
local prefix = "/"

function init(args)
  local file = args[1]
  if args[2] then prefix = args[2] end
  for line in io.lines(file) do
    if #line > 0 then names[#names + 1] = line end
  end
  idx = math.random(#names)
end

function request()
  idx = idx + 1
  if idx > #names then idx = 1 end
  return wrk.format("GET", prefix .. names[idx])
end
