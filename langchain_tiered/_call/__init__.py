"""The call engine: how one ``TieredChatModel`` call is planned and performed.

* ``entry`` - the bodies of ``TieredChatModel._generate``/``_agenerate``/``_stream``/
  ``_astream``; ``request`` - a LangChain call turned into a ``CallRequest``;
* ``plan`` - the policy (pre-flight, reserve, retry, fall back) written once as a generator
  that yields typed actions (``actions``), its bookkeeping and refusal wording in
  ``plan_state``; ``decide`` routes and prices before any I/O (also the dry run behind
  ``TieredChatModel.plan``); ``cascade`` / ``cascade_stream`` - the escalation loop;
  ``structured`` / ``tiercall`` / ``refusal`` - structured output, one tier's call, refusals
  sent as answers;
* ``drivers`` - perform those actions with blocking or awaiting I/O (sync and async twins,
  ``match`` dispatch);
* ``runtime`` / ``state`` - the model's settings resolved once (``build_runtime(model)``), and
  the per-call request and selection the plan works on; ``records`` - typed attempts and
  skips; ``tools`` - the one memo of bound tools;
* ``settle`` / ``relay`` / ``outcome`` - turning a tier's answer (or stream, or a failure
  after sending) into cost, spend records and metadata, without ever losing paid money;
* ``run_context`` / ``fallback_runnable`` - LangChain plumbing for streams and ``with_fallbacks``.

May import: ``preflight``, ``routing``, ``tokens``, ``pricing``, ``budget``, ``ledger``,
``fallbacks``, ``ratelimit``, ``callbacks``, ``errors``, ``tiers``, ``_clock``, and the hooks of
``agents`` (threads, run budgets), ``cascade`` (validators), ``alerts`` and ``metadata``.
Imported only by ``chat_models``; nothing here imports ``chat_models`` at run time.
"""
