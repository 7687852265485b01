from dalecpy.llb import ops_pb2 as _ops_pb2
from dalecpy.frontend import caps_pb2 as _caps_pb2
from dalecpy.frontend import worker_pb2 as _worker_pb2
from dalecpy.frontend import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Result(_message.Message):
    __slots__ = ("refDeprecated", "refsDeprecated", "ref", "refs", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bytes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...
    REFDEPRECATED_FIELD_NUMBER: _ClassVar[int]
    REFSDEPRECATED_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    REFS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    refDeprecated: str
    refsDeprecated: RefMapDeprecated
    ref: Ref
    refs: RefMap
    metadata: _containers.ScalarMap[str, bytes]
    def __init__(self, refDeprecated: _Optional[str] = ..., refsDeprecated: _Optional[_Union[RefMapDeprecated, _Mapping]] = ..., ref: _Optional[_Union[Ref, _Mapping]] = ..., refs: _Optional[_Union[RefMap, _Mapping]] = ..., metadata: _Optional[_Mapping[str, bytes]] = ...) -> None: ...

class RefMapDeprecated(_message.Message):
    __slots__ = ("refs",)
    class RefsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REFS_FIELD_NUMBER: _ClassVar[int]
    refs: _containers.ScalarMap[str, str]
    def __init__(self, refs: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Ref(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    DEF_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ..., **kwargs) -> None: ...

class RefMap(_message.Message):
    __slots__ = ("refs",)
    class RefsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Ref
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Ref, _Mapping]] = ...) -> None: ...
    REFS_FIELD_NUMBER: _ClassVar[int]
    refs: _containers.MessageMap[str, Ref]
    def __init__(self, refs: _Optional[_Mapping[str, Ref]] = ...) -> None: ...

class ReturnRequest(_message.Message):
    __slots__ = ("result", "error")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    result: Result
    error: _status_pb2.Status
    def __init__(self, result: _Optional[_Union[Result, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class ReturnResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class InputsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class InputsResponse(_message.Message):
    __slots__ = ("Definitions",)
    class DefinitionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _ops_pb2.Definition
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_ops_pb2.Definition, _Mapping]] = ...) -> None: ...
    DEFINITIONS_FIELD_NUMBER: _ClassVar[int]
    Definitions: _containers.MessageMap[str, _ops_pb2.Definition]
    def __init__(self, Definitions: _Optional[_Mapping[str, _ops_pb2.Definition]] = ...) -> None: ...

class ResolveImageConfigRequest(_message.Message):
    __slots__ = ("Ref", "Platform", "ResolveMode", "LogName")
    REF_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    RESOLVEMODE_FIELD_NUMBER: _ClassVar[int]
    LOGNAME_FIELD_NUMBER: _ClassVar[int]
    Ref: str
    Platform: _ops_pb2.Platform
    ResolveMode: str
    LogName: str
    def __init__(self, Ref: _Optional[str] = ..., Platform: _Optional[_Union[_ops_pb2.Platform, _Mapping]] = ..., ResolveMode: _Optional[str] = ..., LogName: _Optional[str] = ...) -> None: ...

class ResolveImageConfigResponse(_message.Message):
    __slots__ = ("Digest", "Config")
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    Digest: str
    Config: bytes
    def __init__(self, Digest: _Optional[str] = ..., Config: _Optional[bytes] = ...) -> None: ...

class ResolveSourceMetaRequest(_message.Message):
    __slots__ = ("Source", "Platform", "LogName", "ResolveMode", "Image")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    LOGNAME_FIELD_NUMBER: _ClassVar[int]
    RESOLVEMODE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    Source: _ops_pb2.SourceOp
    Platform: _ops_pb2.Platform
    LogName: str
    ResolveMode: str
    Image: ResolveSourceImageRequest
    def __init__(self, Source: _Optional[_Union[_ops_pb2.SourceOp, _Mapping]] = ..., Platform: _Optional[_Union[_ops_pb2.Platform, _Mapping]] = ..., LogName: _Optional[str] = ..., ResolveMode: _Optional[str] = ..., Image: _Optional[_Union[ResolveSourceImageRequest, _Mapping]] = ...) -> None: ...

class ResolveSourceMetaResponse(_message.Message):
    __slots__ = ("Source", "Image")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    Source: _ops_pb2.SourceOp
    Image: ResolveSourceImageResponse
    def __init__(self, Source: _Optional[_Union[_ops_pb2.SourceOp, _Mapping]] = ..., Image: _Optional[_Union[ResolveSourceImageResponse, _Mapping]] = ...) -> None: ...

class ResolveSourceImageRequest(_message.Message):
    __slots__ = ("NoConfig",)
    NOCONFIG_FIELD_NUMBER: _ClassVar[int]
    NoConfig: bool
    def __init__(self, NoConfig: _Optional[bool] = ...) -> None: ...

class ResolveSourceImageResponse(_message.Message):
    __slots__ = ("Digest", "Config")
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    Digest: str
    Config: bytes
    def __init__(self, Digest: _Optional[str] = ..., Config: _Optional[bytes] = ...) -> None: ...

class EvaluateRequest(_message.Message):
    __slots__ = ("Ref",)
    REF_FIELD_NUMBER: _ClassVar[int]
    Ref: str
    def __init__(self, Ref: _Optional[str] = ...) -> None: ...

class EvaluateResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WarnRequest(_message.Message):
    __slots__ = ("digest", "level", "short", "detail", "url")
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    SHORT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    digest: str
    level: int
    short: bytes
    detail: _containers.RepeatedScalarFieldContainer[bytes]
    url: str
    def __init__(self, digest: _Optional[str] = ..., level: _Optional[int] = ..., short: _Optional[bytes] = ..., detail: _Optional[_Iterable[bytes]] = ..., url: _Optional[str] = ...) -> None: ...

class WarnResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SolveRequest(_message.Message):
    __slots__ = ("Definition", "Frontend", "FrontendOpt", "allowResultReturn", "allowResultArrayRef", "Final", "ExporterAttr", "FrontendInputs", "Evaluate")
    class FrontendOptEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class FrontendInputsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _ops_pb2.Definition
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_ops_pb2.Definition, _Mapping]] = ...) -> None: ...
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    FRONTEND_FIELD_NUMBER: _ClassVar[int]
    FRONTENDOPT_FIELD_NUMBER: _ClassVar[int]
    ALLOWRESULTRETURN_FIELD_NUMBER: _ClassVar[int]
    ALLOWRESULTARRAYREF_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    EXPORTERATTR_FIELD_NUMBER: _ClassVar[int]
    FRONTENDINPUTS_FIELD_NUMBER: _ClassVar[int]
    EVALUATE_FIELD_NUMBER: _ClassVar[int]
    Definition: _ops_pb2.Definition
    Frontend: str
    FrontendOpt: _containers.ScalarMap[str, str]
    allowResultReturn: bool
    allowResultArrayRef: bool
    Final: bool
    ExporterAttr: bytes
    FrontendInputs: _containers.MessageMap[str, _ops_pb2.Definition]
    Evaluate: bool
    def __init__(self, Definition: _Optional[_Union[_ops_pb2.Definition, _Mapping]] = ..., Frontend: _Optional[str] = ..., FrontendOpt: _Optional[_Mapping[str, str]] = ..., allowResultReturn: _Optional[bool] = ..., allowResultArrayRef: _Optional[bool] = ..., Final: _Optional[bool] = ..., ExporterAttr: _Optional[bytes] = ..., FrontendInputs: _Optional[_Mapping[str, _ops_pb2.Definition]] = ..., Evaluate: _Optional[bool] = ...) -> None: ...

class SolveResponse(_message.Message):
    __slots__ = ("ref", "result")
    REF_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ref: str
    result: Result
    def __init__(self, ref: _Optional[str] = ..., result: _Optional[_Union[Result, _Mapping]] = ...) -> None: ...

class ReadFileRequest(_message.Message):
    __slots__ = ("Ref", "FilePath", "Range")
    REF_FIELD_NUMBER: _ClassVar[int]
    FILEPATH_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    Ref: str
    FilePath: str
    Range: FileRange
    def __init__(self, Ref: _Optional[str] = ..., FilePath: _Optional[str] = ..., Range: _Optional[_Union[FileRange, _Mapping]] = ...) -> None: ...

class FileRange(_message.Message):
    __slots__ = ("Offset", "Length")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    Offset: int
    Length: int
    def __init__(self, Offset: _Optional[int] = ..., Length: _Optional[int] = ...) -> None: ...

class ReadFileResponse(_message.Message):
    __slots__ = ("Data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    Data: bytes
    def __init__(self, Data: _Optional[bytes] = ...) -> None: ...

class PingRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PongResponse(_message.Message):
    __slots__ = ("FrontendAPICaps", "LLBCaps", "Workers")
    FRONTENDAPICAPS_FIELD_NUMBER: _ClassVar[int]
    LLBCAPS_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    FrontendAPICaps: _containers.RepeatedCompositeFieldContainer[_caps_pb2.APICap]
    LLBCaps: _containers.RepeatedCompositeFieldContainer[_caps_pb2.APICap]
    Workers: _containers.RepeatedCompositeFieldContainer[_worker_pb2.WorkerRecord]
    def __init__(self, FrontendAPICaps: _Optional[_Iterable[_Union[_caps_pb2.APICap, _Mapping]]] = ..., LLBCaps: _Optional[_Iterable[_Union[_caps_pb2.APICap, _Mapping]]] = ..., Workers: _Optional[_Iterable[_Union[_worker_pb2.WorkerRecord, _Mapping]]] = ...) -> None: ...
