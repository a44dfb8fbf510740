"""The customer segmentation service: a WSDL 1.1 contract and a SOAP 1.1 server over the built models.

Modules, one job each:

* :mod:`~segwork.service.contract`: the WSDL file (``segmentation.wsdl``) and the schema compiled from it;
* :mod:`~segwork.service.operations`: the operations, calling the library functions notebooks call;
* :mod:`~segwork.service.defection`: ExplainDefection (why a customer may leave), dispatched from operations;
* :mod:`~segwork.service.elements`: response elements, xs:double and xs:date text, shared by the operations;
* :mod:`~segwork.service.faults`: SOAP 1.1 Faults;
* :mod:`~segwork.service.app`: the WSGI application (size limit, safe parsing, validation, dispatch);
* :mod:`~segwork.service.server`: waitress around the app (``segwork serve``).

The model folder it serves (build, load, the value columns) and bulk scoring (``segwork score``, the batch
twin of the service) are in :mod:`segwork.models`.

See ``segwork/service/README.md`` for the operations and example envelopes.
"""
