from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class CredentialsRequest(_message.Message):
    __slots__ = ("Host",)
    HOST_FIELD_NUMBER: _ClassVar[int]
    Host: str
    def __init__(self, Host: _Optional[str] = ...) -> None: ...

class CredentialsResponse(_message.Message):
    __slots__ = ("Username", "Secret")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    Username: str
    Secret: str
    def __init__(self, Username: _Optional[str] = ..., Secret: _Optional[str] = ...) -> None: ...

class FetchTokenRequest(_message.Message):
    __slots__ = ("ClientID", "Host", "Realm", "Service", "Scopes")
    CLIENTID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    REALM_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    ClientID: str
    Host: str
    Realm: str
    Service: str
    Scopes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ClientID: _Optional[str] = ..., Host: _Optional[str] = ..., Realm: _Optional[str] = ..., Service: _Optional[str] = ..., Scopes: _Optional[_Iterable[str]] = ...) -> None: ...

class FetchTokenResponse(_message.Message):
    __slots__ = ("Token", "ExpiresIn", "IssuedAt")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRESIN_FIELD_NUMBER: _ClassVar[int]
    ISSUEDAT_FIELD_NUMBER: _ClassVar[int]
    Token: str
    ExpiresIn: int
    IssuedAt: int
    def __init__(self, Token: _Optional[str] = ..., ExpiresIn: _Optional[int] = ..., IssuedAt: _Optional[int] = ...) -> None: ...
