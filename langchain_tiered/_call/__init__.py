"""The call engine: how one ``TieredChatModel`` call is planned and performed.

* ``plan`` - the policy (route, pre-flight, reserve, retry, fall back, settle) written once as a
  generator that yields typed actions (``actions``);
* ``drivers`` - perform those actions with blocking or awaiting I/O (sync and async twins);
* ``runtime`` / ``state`` - the model's settings resolved once, and the per-call request and
  selection records the plan works on;
* ``settle`` / ``relay`` - turning a tier's answer (or stream) into cost, records and metadata;
* ``run_context`` / ``fallback_runnable`` - LangChain plumbing for streams and ``with_fallbacks``.

May import: ``preflight``, ``routing``, ``tokens``, ``pricing``, ``budget``, ``ledger``,
``fallbacks``, ``ratelimit``, ``callbacks``, ``errors``, ``tiers``, ``_clock``. Imported only by
``chat_models``; nothing here imports ``chat_models`` at run time.
"""
