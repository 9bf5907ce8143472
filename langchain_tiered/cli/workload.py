"""The demo's workload: German and English prompts of every kind a chat model meets.

The first three are the seed cases (a lookup list, a short explanation, a multi-step strategy
analysis); the rest cover lookups, lists, translations, classification, explanations,
comparisons, code generation, analysis and multi-part questions, so every tier gets traffic.
"""

from __future__ import annotations

__all__ = ["DEMO_PROMPTS", "SEED_PROMPTS"]

SEED_PROMPTS: tuple[str, ...] = (
    "Liste die Hauptstädte Europas auf",
    "Erkläre den Unterschied zwischen REST und GraphQL in 3 Sätzen",
    "Analysiere und bewerte mehrstufig die Strategie unseres Unternehmens für den "
    "Markteintritt in Asien, begründe jede Annahme",
)

_MORE: tuple[str, ...] = (
    # lookups
    "Wie hoch ist die Zugspitze?",
    "What is the capital of Australia?",
    "Wann wurde die Berliner Mauer gebaut?",
    "Who wrote 'Pride and Prejudice'?",
    # lists
    "List five common HTTP status codes",
    "Nenne drei Vorteile von Elektroautos",
    "List the planets of the solar system",
    # translations
    "Übersetze ins Englische: Der Zug hat heute zehn Minuten Verspätung.",
    "Translate into German: The meeting has been moved to Thursday afternoon.",
    "Übersetze 'Kundenzufriedenheit' ins Französische",
    # classification
    "Classify this review as positive or negative: 'The battery died after two days.'",
    "Ist diese E-Mail Spam? 'Sie haben 1.000.000 EUR gewonnen, klicken Sie hier!'",
    "Classify the sentiment: 'Service was slow but the food was great.'",
    # explanations
    "Explain how HTTPS protects data in transit in a short paragraph",
    "Erkläre, wie ein Hash-Index in einer Datenbank funktioniert",
    "Explain what a vector database is used for",
    "Erkläre kurz, was Inflation ist",
    # comparisons
    "Compare PostgreSQL and MongoDB for a small web shop",
    "Vergleiche Kafka und RabbitMQ hinsichtlich Durchsatz und Zustellgarantien",
    "Compare renting and buying a flat in Munich",
    # code generation
    "Write a Python function that merges two sorted lists and add unit tests",
    "Schreibe eine TypeScript-Funktion, die eine IBAN validiert, mit Tests",
    "Implement an LRU cache in Go with O(1) get and put",
    "Refactor this function to be async:\n```python\ndef fetch(url):\n"
    "    return requests.get(url).json()\n```",
    # analysis / strategy
    "Analyze the trade-offs of a microservice migration for a 20-person team, step by step, "
    "and justify each recommendation",
    "Bewerte die Risiken einer Cloud-Migration unseres ERP-Systems und entwickle eine "
    "Strategie mit Meilensteinen",
    "Evaluate our pricing strategy for a B2B SaaS product entering the German market; "
    "reason through each assumption",
    "Entwirf eine Architektur für ein ausfallsicheres Zahlungssystem und begründe jede "
    "Designentscheidung",
    # multi-part questions
    "What is Kubernetes? How does it differ from Docker Swarm? When should I use either?",
    "Was ist ein Index? Wann schadet er? Wie finde ich fehlende Indizes?",
    "Summarize the causes of the 2008 financial crisis. Which lessons apply to crypto? "
    "What would regulators do differently today?",
    # short everyday requests
    "Formuliere eine höfliche Absage für eine Einladung zum Abendessen",
    "Give me a catchy title for a blog post about remote work",
    "Fasse in einem Satz zusammen: Die Besprechung wurde auf Donnerstag verschoben.",
    "Suggest three names for a coffee shop",
    "Schreibe eine kurze Produktbeschreibung für eine Thermoskanne",
    "Explain recursion to a ten-year-old",
)

DEMO_PROMPTS: tuple[str, ...] = SEED_PROMPTS + _MORE
"""Every prompt of the demo, seed cases first."""
