"""What the chapters show on the page: coloured text (:mod:`.html`), the gate explorer
(:mod:`.widgets`), the widgets over a coloured text (:mod:`.text_widgets`), the diagrams
(:mod:`.diagrams`) and their colours (:mod:`.palette`)."""
