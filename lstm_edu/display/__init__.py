"""What the chapters show on the page: coloured text (:mod:`.html`), the gate explorer
(:mod:`.widgets`), the widgets over a coloured text (:mod:`.text_widgets`) and, later, diagrams."""
