-- Quarto features the plain-pandoc engine needs, so the same .qmd pages render
-- finished without Quarto:
--   * fig-alt="..." on an image becomes its alt text (Quarto does this itself);
--   * ::: {.callout-note|tip|warning|important|caution title="..."} becomes a
--     titled box with the same class names Quarto uses, styled by site.css.

local CALLOUT_TITLES = {
  ["callout-note"] = "Note", ["callout-tip"] = "Tip", ["callout-warning"] = "Warning",
  ["callout-important"] = "Important", ["callout-caution"] = "Caution",
}

function Image(el)
  local alt = el.attributes["fig-alt"]
  if alt ~= nil then
    el.attributes["fig-alt"] = nil
    el.attributes["alt"] = alt
  end
  return el
end

function Figure(el)
  -- pandoc 3 repeats the caption as alt text; fig-alt (handled above) wins.
  return pandoc.walk_block(el, { Image = Image })
end

function Div(el)
  local kind = nil
  for _, cls in ipairs(el.classes) do
    if CALLOUT_TITLES[cls] ~= nil then kind = cls end
  end
  if kind == nil then return nil end
  local title = el.attributes["title"]
  el.attributes["title"] = nil
  local content = el.content
  local heading = nil
  if #content > 0 and content[1].t == "Header" then
    heading = content[1].content
    content = pandoc.List({ table.unpack(content, 2) })
  elseif title ~= nil then
    heading = pandoc.read(title, "markdown").blocks[1].content
  else
    heading = { pandoc.Str(CALLOUT_TITLES[kind]) }
  end
  local header = pandoc.Div({ pandoc.Plain(heading) }, { class = "callout-title" })
  local body = pandoc.Div(content, { class = "callout-body" })
  local classes = pandoc.List({ "callout" })
  classes:extend(el.classes)
  return pandoc.Div({ header, body }, pandoc.Attr(el.identifier, classes, { role = "note" }))
end

return { { Image = Image }, { Div = Div } }
