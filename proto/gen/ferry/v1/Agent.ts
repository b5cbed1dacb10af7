// Original file: proto/ferry.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CheckpointAndSendRequest as _ferry_v1_CheckpointAndSendRequest, CheckpointAndSendRequest__Output as _ferry_v1_CheckpointAndSendRequest__Output } from '../../ferry/v1/CheckpointAndSendRequest';
import type { CommitReply as _ferry_v1_CommitReply, CommitReply__Output as _ferry_v1_CommitReply__Output } from '../../ferry/v1/CommitReply';
import type { CommitRequest as _ferry_v1_CommitRequest, CommitRequest__Output as _ferry_v1_CommitRequest__Output } from '../../ferry/v1/CommitRequest';
import type { ContainerInfo as _ferry_v1_ContainerInfo, ContainerInfo__Output as _ferry_v1_ContainerInfo__Output } from '../../ferry/v1/ContainerInfo';
import type { CordonRequest as _ferry_v1_CordonRequest, CordonRequest__Output as _ferry_v1_CordonRequest__Output } from '../../ferry/v1/CordonRequest';
import type { CordonState as _ferry_v1_CordonState, CordonState__Output as _ferry_v1_CordonState__Output } from '../../ferry/v1/CordonState';
import type { InfoReply as _ferry_v1_InfoReply, InfoReply__Output as _ferry_v1_InfoReply__Output } from '../../ferry/v1/InfoReply';
import type { InfoRequest as _ferry_v1_InfoRequest, InfoRequest__Output as _ferry_v1_InfoRequest__Output } from '../../ferry/v1/InfoRequest';
import type { InspectContainerRequest as _ferry_v1_InspectContainerRequest, InspectContainerRequest__Output as _ferry_v1_InspectContainerRequest__Output } from '../../ferry/v1/InspectContainerRequest';
import type { ListContainersReply as _ferry_v1_ListContainersReply, ListContainersReply__Output as _ferry_v1_ListContainersReply__Output } from '../../ferry/v1/ListContainersReply';
import type { ListContainersRequest as _ferry_v1_ListContainersRequest, ListContainersRequest__Output as _ferry_v1_ListContainersRequest__Output } from '../../ferry/v1/ListContainersRequest';
import type { ListMigrationsReply as _ferry_v1_ListMigrationsReply, ListMigrationsReply__Output as _ferry_v1_ListMigrationsReply__Output } from '../../ferry/v1/ListMigrationsReply';
import type { ListMigrationsRequest as _ferry_v1_ListMigrationsRequest, ListMigrationsRequest__Output as _ferry_v1_ListMigrationsRequest__Output } from '../../ferry/v1/ListMigrationsRequest';
import type { ListOriginsReply as _ferry_v1_ListOriginsReply, ListOriginsReply__Output as _ferry_v1_ListOriginsReply__Output } from '../../ferry/v1/ListOriginsReply';
import type { ListOriginsRequest as _ferry_v1_ListOriginsRequest, ListOriginsRequest__Output as _ferry_v1_ListOriginsRequest__Output } from '../../ferry/v1/ListOriginsRequest';
import type { MigrationEvent as _ferry_v1_MigrationEvent, MigrationEvent__Output as _ferry_v1_MigrationEvent__Output } from '../../ferry/v1/MigrationEvent';
import type { MigrationStatusReply as _ferry_v1_MigrationStatusReply, MigrationStatusReply__Output as _ferry_v1_MigrationStatusReply__Output } from '../../ferry/v1/MigrationStatusReply';
import type { MigrationStatusRequest as _ferry_v1_MigrationStatusRequest, MigrationStatusRequest__Output as _ferry_v1_MigrationStatusRequest__Output } from '../../ferry/v1/MigrationStatusRequest';
import type { OpenStreamReply as _ferry_v1_OpenStreamReply, OpenStreamReply__Output as _ferry_v1_OpenStreamReply__Output } from '../../ferry/v1/OpenStreamReply';
import type { OpenStreamRequest as _ferry_v1_OpenStreamRequest, OpenStreamRequest__Output as _ferry_v1_OpenStreamRequest__Output } from '../../ferry/v1/OpenStreamRequest';
import type { ParkRequest as _ferry_v1_ParkRequest, ParkRequest__Output as _ferry_v1_ParkRequest__Output } from '../../ferry/v1/ParkRequest';
import type { ParkResult as _ferry_v1_ParkResult, ParkResult__Output as _ferry_v1_ParkResult__Output } from '../../ferry/v1/ParkResult';
import type { PrepareReceiveReply as _ferry_v1_PrepareReceiveReply, PrepareReceiveReply__Output as _ferry_v1_PrepareReceiveReply__Output } from '../../ferry/v1/PrepareReceiveReply';
import type { PrepareReceiveRequest as _ferry_v1_PrepareReceiveRequest, PrepareReceiveRequest__Output as _ferry_v1_PrepareReceiveRequest__Output } from '../../ferry/v1/PrepareReceiveRequest';
import type { RestoreReply as _ferry_v1_RestoreReply, RestoreReply__Output as _ferry_v1_RestoreReply__Output } from '../../ferry/v1/RestoreReply';
import type { RestoreRequest as _ferry_v1_RestoreRequest, RestoreRequest__Output as _ferry_v1_RestoreRequest__Output } from '../../ferry/v1/RestoreRequest';
import type { RollbackReply as _ferry_v1_RollbackReply, RollbackReply__Output as _ferry_v1_RollbackReply__Output } from '../../ferry/v1/RollbackReply';
import type { RollbackRequest as _ferry_v1_RollbackRequest, RollbackRequest__Output as _ferry_v1_RollbackRequest__Output } from '../../ferry/v1/RollbackRequest';
import type { TakeAddressReply as _ferry_v1_TakeAddressReply, TakeAddressReply__Output as _ferry_v1_TakeAddressReply__Output } from '../../ferry/v1/TakeAddressReply';
import type { TakeAddressRequest as _ferry_v1_TakeAddressRequest, TakeAddressRequest__Output as _ferry_v1_TakeAddressRequest__Output } from '../../ferry/v1/TakeAddressRequest';

export interface AgentClient extends grpc.Client {
  CheckpointAndSend(argument: _ferry_v1_CheckpointAndSendRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_ferry_v1_MigrationEvent__Output>;
  CheckpointAndSend(argument: _ferry_v1_CheckpointAndSendRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_ferry_v1_MigrationEvent__Output>;
  checkpointAndSend(argument: _ferry_v1_CheckpointAndSendRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_ferry_v1_MigrationEvent__Output>;
  checkpointAndSend(argument: _ferry_v1_CheckpointAndSendRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_ferry_v1_MigrationEvent__Output>;
  
  Commit(argument: _ferry_v1_CommitRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_CommitReply__Output>): grpc.ClientUnaryCall;
  Commit(argument: _ferry_v1_CommitRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_CommitReply__Output>): grpc.ClientUnaryCall;
  Commit(argument: _ferry_v1_CommitRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_CommitReply__Output>): grpc.ClientUnaryCall;
  Commit(argument: _ferry_v1_CommitRequest, callback: grpc.requestCallback<_ferry_v1_CommitReply__Output>): grpc.ClientUnaryCall;
  commit(argument: _ferry_v1_CommitRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_CommitReply__Output>): grpc.ClientUnaryCall;
  commit(argument: _ferry_v1_CommitRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_CommitReply__Output>): grpc.ClientUnaryCall;
  commit(argument: _ferry_v1_CommitRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_CommitReply__Output>): grpc.ClientUnaryCall;
  commit(argument: _ferry_v1_CommitRequest, callback: grpc.requestCallback<_ferry_v1_CommitReply__Output>): grpc.ClientUnaryCall;
  
  Cordon(argument: _ferry_v1_CordonRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_CordonState__Output>): grpc.ClientUnaryCall;
  Cordon(argument: _ferry_v1_CordonRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_CordonState__Output>): grpc.ClientUnaryCall;
  Cordon(argument: _ferry_v1_CordonRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_CordonState__Output>): grpc.ClientUnaryCall;
  Cordon(argument: _ferry_v1_CordonRequest, callback: grpc.requestCallback<_ferry_v1_CordonState__Output>): grpc.ClientUnaryCall;
  cordon(argument: _ferry_v1_CordonRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_CordonState__Output>): grpc.ClientUnaryCall;
  cordon(argument: _ferry_v1_CordonRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_CordonState__Output>): grpc.ClientUnaryCall;
  cordon(argument: _ferry_v1_CordonRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_CordonState__Output>): grpc.ClientUnaryCall;
  cordon(argument: _ferry_v1_CordonRequest, callback: grpc.requestCallback<_ferry_v1_CordonState__Output>): grpc.ClientUnaryCall;
  
  Info(argument: _ferry_v1_InfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  Info(argument: _ferry_v1_InfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  Info(argument: _ferry_v1_InfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  Info(argument: _ferry_v1_InfoRequest, callback: grpc.requestCallback<_ferry_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  info(argument: _ferry_v1_InfoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  info(argument: _ferry_v1_InfoRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  info(argument: _ferry_v1_InfoRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  info(argument: _ferry_v1_InfoRequest, callback: grpc.requestCallback<_ferry_v1_InfoReply__Output>): grpc.ClientUnaryCall;
  
  InspectContainer(argument: _ferry_v1_InspectContainerRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_ContainerInfo__Output>): grpc.ClientUnaryCall;
  InspectContainer(argument: _ferry_v1_InspectContainerRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_ContainerInfo__Output>): grpc.ClientUnaryCall;
  InspectContainer(argument: _ferry_v1_InspectContainerRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_ContainerInfo__Output>): grpc.ClientUnaryCall;
  InspectContainer(argument: _ferry_v1_InspectContainerRequest, callback: grpc.requestCallback<_ferry_v1_ContainerInfo__Output>): grpc.ClientUnaryCall;
  inspectContainer(argument: _ferry_v1_InspectContainerRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_ContainerInfo__Output>): grpc.ClientUnaryCall;
  inspectContainer(argument: _ferry_v1_InspectContainerRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_ContainerInfo__Output>): grpc.ClientUnaryCall;
  inspectContainer(argument: _ferry_v1_InspectContainerRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_ContainerInfo__Output>): grpc.ClientUnaryCall;
  inspectContainer(argument: _ferry_v1_InspectContainerRequest, callback: grpc.requestCallback<_ferry_v1_ContainerInfo__Output>): grpc.ClientUnaryCall;
  
  ListContainers(argument: _ferry_v1_ListContainersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_ListContainersReply__Output>): grpc.ClientUnaryCall;
  ListContainers(argument: _ferry_v1_ListContainersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_ListContainersReply__Output>): grpc.ClientUnaryCall;
  ListContainers(argument: _ferry_v1_ListContainersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_ListContainersReply__Output>): grpc.ClientUnaryCall;
  ListContainers(argument: _ferry_v1_ListContainersRequest, callback: grpc.requestCallback<_ferry_v1_ListContainersReply__Output>): grpc.ClientUnaryCall;
  listContainers(argument: _ferry_v1_ListContainersRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_ListContainersReply__Output>): grpc.ClientUnaryCall;
  listContainers(argument: _ferry_v1_ListContainersRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_ListContainersReply__Output>): grpc.ClientUnaryCall;
  listContainers(argument: _ferry_v1_ListContainersRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_ListContainersReply__Output>): grpc.ClientUnaryCall;
  listContainers(argument: _ferry_v1_ListContainersRequest, callback: grpc.requestCallback<_ferry_v1_ListContainersReply__Output>): grpc.ClientUnaryCall;
  
  ListMigrations(argument: _ferry_v1_ListMigrationsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_ListMigrationsReply__Output>): grpc.ClientUnaryCall;
  ListMigrations(argument: _ferry_v1_ListMigrationsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_ListMigrationsReply__Output>): grpc.ClientUnaryCall;
  ListMigrations(argument: _ferry_v1_ListMigrationsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_ListMigrationsReply__Output>): grpc.ClientUnaryCall;
  ListMigrations(argument: _ferry_v1_ListMigrationsRequest, callback: grpc.requestCallback<_ferry_v1_ListMigrationsReply__Output>): grpc.ClientUnaryCall;
  listMigrations(argument: _ferry_v1_ListMigrationsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_ListMigrationsReply__Output>): grpc.ClientUnaryCall;
  listMigrations(argument: _ferry_v1_ListMigrationsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_ListMigrationsReply__Output>): grpc.ClientUnaryCall;
  listMigrations(argument: _ferry_v1_ListMigrationsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_ListMigrationsReply__Output>): grpc.ClientUnaryCall;
  listMigrations(argument: _ferry_v1_ListMigrationsRequest, callback: grpc.requestCallback<_ferry_v1_ListMigrationsReply__Output>): grpc.ClientUnaryCall;
  
  ListOrigins(argument: _ferry_v1_ListOriginsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_ListOriginsReply__Output>): grpc.ClientUnaryCall;
  ListOrigins(argument: _ferry_v1_ListOriginsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_ListOriginsReply__Output>): grpc.ClientUnaryCall;
  ListOrigins(argument: _ferry_v1_ListOriginsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_ListOriginsReply__Output>): grpc.ClientUnaryCall;
  ListOrigins(argument: _ferry_v1_ListOriginsRequest, callback: grpc.requestCallback<_ferry_v1_ListOriginsReply__Output>): grpc.ClientUnaryCall;
  listOrigins(argument: _ferry_v1_ListOriginsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_ListOriginsReply__Output>): grpc.ClientUnaryCall;
  listOrigins(argument: _ferry_v1_ListOriginsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_ListOriginsReply__Output>): grpc.ClientUnaryCall;
  listOrigins(argument: _ferry_v1_ListOriginsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_ListOriginsReply__Output>): grpc.ClientUnaryCall;
  listOrigins(argument: _ferry_v1_ListOriginsRequest, callback: grpc.requestCallback<_ferry_v1_ListOriginsReply__Output>): grpc.ClientUnaryCall;
  
  MigrationStatus(argument: _ferry_v1_MigrationStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_MigrationStatusReply__Output>): grpc.ClientUnaryCall;
  MigrationStatus(argument: _ferry_v1_MigrationStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_MigrationStatusReply__Output>): grpc.ClientUnaryCall;
  MigrationStatus(argument: _ferry_v1_MigrationStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_MigrationStatusReply__Output>): grpc.ClientUnaryCall;
  MigrationStatus(argument: _ferry_v1_MigrationStatusRequest, callback: grpc.requestCallback<_ferry_v1_MigrationStatusReply__Output>): grpc.ClientUnaryCall;
  migrationStatus(argument: _ferry_v1_MigrationStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_MigrationStatusReply__Output>): grpc.ClientUnaryCall;
  migrationStatus(argument: _ferry_v1_MigrationStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_MigrationStatusReply__Output>): grpc.ClientUnaryCall;
  migrationStatus(argument: _ferry_v1_MigrationStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_MigrationStatusReply__Output>): grpc.ClientUnaryCall;
  migrationStatus(argument: _ferry_v1_MigrationStatusRequest, callback: grpc.requestCallback<_ferry_v1_MigrationStatusReply__Output>): grpc.ClientUnaryCall;
  
  OpenStream(argument: _ferry_v1_OpenStreamRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_OpenStreamReply__Output>): grpc.ClientUnaryCall;
  OpenStream(argument: _ferry_v1_OpenStreamRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_OpenStreamReply__Output>): grpc.ClientUnaryCall;
  OpenStream(argument: _ferry_v1_OpenStreamRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_OpenStreamReply__Output>): grpc.ClientUnaryCall;
  OpenStream(argument: _ferry_v1_OpenStreamRequest, callback: grpc.requestCallback<_ferry_v1_OpenStreamReply__Output>): grpc.ClientUnaryCall;
  openStream(argument: _ferry_v1_OpenStreamRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_OpenStreamReply__Output>): grpc.ClientUnaryCall;
  openStream(argument: _ferry_v1_OpenStreamRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_OpenStreamReply__Output>): grpc.ClientUnaryCall;
  openStream(argument: _ferry_v1_OpenStreamRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_OpenStreamReply__Output>): grpc.ClientUnaryCall;
  openStream(argument: _ferry_v1_OpenStreamRequest, callback: grpc.requestCallback<_ferry_v1_OpenStreamReply__Output>): grpc.ClientUnaryCall;
  
  Park(argument: _ferry_v1_ParkRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_ferry_v1_ParkResult__Output>;
  Park(argument: _ferry_v1_ParkRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_ferry_v1_ParkResult__Output>;
  park(argument: _ferry_v1_ParkRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_ferry_v1_ParkResult__Output>;
  park(argument: _ferry_v1_ParkRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_ferry_v1_ParkResult__Output>;
  
  PrepareReceive(argument: _ferry_v1_PrepareReceiveRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_PrepareReceiveReply__Output>): grpc.ClientUnaryCall;
  PrepareReceive(argument: _ferry_v1_PrepareReceiveRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_PrepareReceiveReply__Output>): grpc.ClientUnaryCall;
  PrepareReceive(argument: _ferry_v1_PrepareReceiveRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_PrepareReceiveReply__Output>): grpc.ClientUnaryCall;
  PrepareReceive(argument: _ferry_v1_PrepareReceiveRequest, callback: grpc.requestCallback<_ferry_v1_PrepareReceiveReply__Output>): grpc.ClientUnaryCall;
  prepareReceive(argument: _ferry_v1_PrepareReceiveRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_PrepareReceiveReply__Output>): grpc.ClientUnaryCall;
  prepareReceive(argument: _ferry_v1_PrepareReceiveRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_PrepareReceiveReply__Output>): grpc.ClientUnaryCall;
  prepareReceive(argument: _ferry_v1_PrepareReceiveRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_PrepareReceiveReply__Output>): grpc.ClientUnaryCall;
  prepareReceive(argument: _ferry_v1_PrepareReceiveRequest, callback: grpc.requestCallback<_ferry_v1_PrepareReceiveReply__Output>): grpc.ClientUnaryCall;
  
  Restore(argument: _ferry_v1_RestoreRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_RestoreReply__Output>): grpc.ClientUnaryCall;
  Restore(argument: _ferry_v1_RestoreRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_RestoreReply__Output>): grpc.ClientUnaryCall;
  Restore(argument: _ferry_v1_RestoreRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_RestoreReply__Output>): grpc.ClientUnaryCall;
  Restore(argument: _ferry_v1_RestoreRequest, callback: grpc.requestCallback<_ferry_v1_RestoreReply__Output>): grpc.ClientUnaryCall;
  restore(argument: _ferry_v1_RestoreRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_RestoreReply__Output>): grpc.ClientUnaryCall;
  restore(argument: _ferry_v1_RestoreRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_RestoreReply__Output>): grpc.ClientUnaryCall;
  restore(argument: _ferry_v1_RestoreRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_RestoreReply__Output>): grpc.ClientUnaryCall;
  restore(argument: _ferry_v1_RestoreRequest, callback: grpc.requestCallback<_ferry_v1_RestoreReply__Output>): grpc.ClientUnaryCall;
  
  Rollback(argument: _ferry_v1_RollbackRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_RollbackReply__Output>): grpc.ClientUnaryCall;
  Rollback(argument: _ferry_v1_RollbackRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_RollbackReply__Output>): grpc.ClientUnaryCall;
  Rollback(argument: _ferry_v1_RollbackRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_RollbackReply__Output>): grpc.ClientUnaryCall;
  Rollback(argument: _ferry_v1_RollbackRequest, callback: grpc.requestCallback<_ferry_v1_RollbackReply__Output>): grpc.ClientUnaryCall;
  rollback(argument: _ferry_v1_RollbackRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_RollbackReply__Output>): grpc.ClientUnaryCall;
  rollback(argument: _ferry_v1_RollbackRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_RollbackReply__Output>): grpc.ClientUnaryCall;
  rollback(argument: _ferry_v1_RollbackRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_RollbackReply__Output>): grpc.ClientUnaryCall;
  rollback(argument: _ferry_v1_RollbackRequest, callback: grpc.requestCallback<_ferry_v1_RollbackReply__Output>): grpc.ClientUnaryCall;
  
  TakeAddress(argument: _ferry_v1_TakeAddressRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_TakeAddressReply__Output>): grpc.ClientUnaryCall;
  TakeAddress(argument: _ferry_v1_TakeAddressRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_TakeAddressReply__Output>): grpc.ClientUnaryCall;
  TakeAddress(argument: _ferry_v1_TakeAddressRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_TakeAddressReply__Output>): grpc.ClientUnaryCall;
  TakeAddress(argument: _ferry_v1_TakeAddressRequest, callback: grpc.requestCallback<_ferry_v1_TakeAddressReply__Output>): grpc.ClientUnaryCall;
  takeAddress(argument: _ferry_v1_TakeAddressRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_TakeAddressReply__Output>): grpc.ClientUnaryCall;
  takeAddress(argument: _ferry_v1_TakeAddressRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_ferry_v1_TakeAddressReply__Output>): grpc.ClientUnaryCall;
  takeAddress(argument: _ferry_v1_TakeAddressRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_ferry_v1_TakeAddressReply__Output>): grpc.ClientUnaryCall;
  takeAddress(argument: _ferry_v1_TakeAddressRequest, callback: grpc.requestCallback<_ferry_v1_TakeAddressReply__Output>): grpc.ClientUnaryCall;
  
  Unpark(argument: _ferry_v1_ParkRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_ferry_v1_ParkResult__Output>;
  Unpark(argument: _ferry_v1_ParkRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_ferry_v1_ParkResult__Output>;
  unpark(argument: _ferry_v1_ParkRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_ferry_v1_ParkResult__Output>;
  unpark(argument: _ferry_v1_ParkRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_ferry_v1_ParkResult__Output>;
  
}

export interface AgentHandlers extends grpc.UntypedServiceImplementation {
  CheckpointAndSend: grpc.handleServerStreamingCall<_ferry_v1_CheckpointAndSendRequest__Output, _ferry_v1_MigrationEvent>;
  
  Commit: grpc.handleUnaryCall<_ferry_v1_CommitRequest__Output, _ferry_v1_CommitReply>;
  
  Cordon: grpc.handleUnaryCall<_ferry_v1_CordonRequest__Output, _ferry_v1_CordonState>;
  
  Info: grpc.handleUnaryCall<_ferry_v1_InfoRequest__Output, _ferry_v1_InfoReply>;
  
  InspectContainer: grpc.handleUnaryCall<_ferry_v1_InspectContainerRequest__Output, _ferry_v1_ContainerInfo>;
  
  ListContainers: grpc.handleUnaryCall<_ferry_v1_ListContainersRequest__Output, _ferry_v1_ListContainersReply>;
  
  ListMigrations: grpc.handleUnaryCall<_ferry_v1_ListMigrationsRequest__Output, _ferry_v1_ListMigrationsReply>;
  
  ListOrigins: grpc.handleUnaryCall<_ferry_v1_ListOriginsRequest__Output, _ferry_v1_ListOriginsReply>;
  
  MigrationStatus: grpc.handleUnaryCall<_ferry_v1_MigrationStatusRequest__Output, _ferry_v1_MigrationStatusReply>;
  
  OpenStream: grpc.handleUnaryCall<_ferry_v1_OpenStreamRequest__Output, _ferry_v1_OpenStreamReply>;
  
  Park: grpc.handleServerStreamingCall<_ferry_v1_ParkRequest__Output, _ferry_v1_ParkResult>;
  
  PrepareReceive: grpc.handleUnaryCall<_ferry_v1_PrepareReceiveRequest__Output, _ferry_v1_PrepareReceiveReply>;
  
  Restore: grpc.handleUnaryCall<_ferry_v1_RestoreRequest__Output, _ferry_v1_RestoreReply>;
  
  Rollback: grpc.handleUnaryCall<_ferry_v1_RollbackRequest__Output, _ferry_v1_RollbackReply>;
  
  TakeAddress: grpc.handleUnaryCall<_ferry_v1_TakeAddressRequest__Output, _ferry_v1_TakeAddressReply>;
  
  Unpark: grpc.handleServerStreamingCall<_ferry_v1_ParkRequest__Output, _ferry_v1_ParkResult>;
  
}

export interface AgentDefinition extends grpc.ServiceDefinition {
  CheckpointAndSend: MethodDefinition<_ferry_v1_CheckpointAndSendRequest, _ferry_v1_MigrationEvent, _ferry_v1_CheckpointAndSendRequest__Output, _ferry_v1_MigrationEvent__Output>
  Commit: MethodDefinition<_ferry_v1_CommitRequest, _ferry_v1_CommitReply, _ferry_v1_CommitRequest__Output, _ferry_v1_CommitReply__Output>
  Cordon: MethodDefinition<_ferry_v1_CordonRequest, _ferry_v1_CordonState, _ferry_v1_CordonRequest__Output, _ferry_v1_CordonState__Output>
  Info: MethodDefinition<_ferry_v1_InfoRequest, _ferry_v1_InfoReply, _ferry_v1_InfoRequest__Output, _ferry_v1_InfoReply__Output>
  InspectContainer: MethodDefinition<_ferry_v1_InspectContainerRequest, _ferry_v1_ContainerInfo, _ferry_v1_InspectContainerRequest__Output, _ferry_v1_ContainerInfo__Output>
  ListContainers: MethodDefinition<_ferry_v1_ListContainersRequest, _ferry_v1_ListContainersReply, _ferry_v1_ListContainersRequest__Output, _ferry_v1_ListContainersReply__Output>
  ListMigrations: MethodDefinition<_ferry_v1_ListMigrationsRequest, _ferry_v1_ListMigrationsReply, _ferry_v1_ListMigrationsRequest__Output, _ferry_v1_ListMigrationsReply__Output>
  ListOrigins: MethodDefinition<_ferry_v1_ListOriginsRequest, _ferry_v1_ListOriginsReply, _ferry_v1_ListOriginsRequest__Output, _ferry_v1_ListOriginsReply__Output>
  MigrationStatus: MethodDefinition<_ferry_v1_MigrationStatusRequest, _ferry_v1_MigrationStatusReply, _ferry_v1_MigrationStatusRequest__Output, _ferry_v1_MigrationStatusReply__Output>
  OpenStream: MethodDefinition<_ferry_v1_OpenStreamRequest, _ferry_v1_OpenStreamReply, _ferry_v1_OpenStreamRequest__Output, _ferry_v1_OpenStreamReply__Output>
  Park: MethodDefinition<_ferry_v1_ParkRequest, _ferry_v1_ParkResult, _ferry_v1_ParkRequest__Output, _ferry_v1_ParkResult__Output>
  PrepareReceive: MethodDefinition<_ferry_v1_PrepareReceiveRequest, _ferry_v1_PrepareReceiveReply, _ferry_v1_PrepareReceiveRequest__Output, _ferry_v1_PrepareReceiveReply__Output>
  Restore: MethodDefinition<_ferry_v1_RestoreRequest, _ferry_v1_RestoreReply, _ferry_v1_RestoreRequest__Output, _ferry_v1_RestoreReply__Output>
  Rollback: MethodDefinition<_ferry_v1_RollbackRequest, _ferry_v1_RollbackReply, _ferry_v1_RollbackRequest__Output, _ferry_v1_RollbackReply__Output>
  TakeAddress: MethodDefinition<_ferry_v1_TakeAddressRequest, _ferry_v1_TakeAddressReply, _ferry_v1_TakeAddressRequest__Output, _ferry_v1_TakeAddressReply__Output>
  Unpark: MethodDefinition<_ferry_v1_ParkRequest, _ferry_v1_ParkResult, _ferry_v1_ParkRequest__Output, _ferry_v1_ParkResult__Output>
}
