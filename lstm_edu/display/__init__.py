"""What the chapters show on the page: HTML, widgets and, later, diagrams."""
