"""The shared UI foundation of the portals (/innbygger, /helsepersonell).

    pages.py       Pages: Jinja2 (autoescape), layout, translator, CSRF field, flash messages
    i18n.py        languages (nb first, en, nn), catalogues, `t()`
    messages.py    the layout's own words
    formatting.py  `27. november 2026`, `72,5 kg`
    chart.py       server-rendered, accessible SVG line charts with reference ranges
    timing.py      `Server-Timing` on every page response
    static.py      /static: ehelse.css and the npm packages (Designsystemet, htmx) from node_modules
    templates/ui/  base.html (skip link, landmarks, language switch, acting-for banner, flashes)
                   and macros.html (tables, alerts, form fields)
"""

from ehelse.portals.ui.chart import Series, line_chart
from ehelse.portals.ui.i18n import Catalogue, language
from ehelse.portals.ui.pages import Pages, flash
from ehelse.portals.ui.static import install_static
from ehelse.portals.ui.timing import ServerTiming, measure

__all__ = ["Catalogue", "Pages", "Series", "ServerTiming", "flash", "install_static", "language", "line_chart",
           "measure"]
